// Microbenchmarks of the stats registry's hot path (common/stats.h): what one counter increment
// and one histogram observation cost a request, on one thread and with two threads updating the
// same series (each thread in its own shard). For comparison, one plain relaxed atomic shared by
// the threads: what the sharding saves when two cores count the same series.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

#include "common/stats.h"
#include "http/request.h"
#include "http/stats.h"

namespace rendezvous::common {
namespace {

constexpr double kBounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                              0.025,   0.05,   0.1,     0.25,   1,     2.5,    10};

void BM_CounterIncrement(benchmark::State& state) {
  static Counter counter;  // shared by the benchmark's threads
  for (auto _ : state) counter.Increment();
  benchmark::DoNotOptimize(counter.Value());
}
BENCHMARK(BM_CounterIncrement)->Threads(1)->Threads(2);

void BM_SharedAtomicIncrement(benchmark::State& state) {
  alignas(64) static std::atomic<uint64_t> shared{0};
  for (auto _ : state) shared.fetch_add(1, std::memory_order_relaxed);
  benchmark::DoNotOptimize(shared.load());
}
BENCHMARK(BM_SharedAtomicIncrement)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  static Histogram histogram(kBounds);
  // A request of 120 us: the third bucket, as a memory-store GET lands.
  int64_t nanos = 120'000;
  for (auto _ : state) {
    histogram.ObserveNanos(nanos);
    benchmark::DoNotOptimize(nanos);
  }
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// What the Router adds to a request: one count by method and code, one duration observation.
void BM_RequestStatsRecord(benchmark::State& state) {
  static StatsRegistry registry;
  static http::RequestStats stats(registry);
  int64_t nanos = 120'000;
  for (auto _ : state) {
    stats.Record(http::Method::kGet, 200, nanos);
    benchmark::DoNotOptimize(nanos);
  }
}
BENCHMARK(BM_RequestStatsRecord)->Threads(1)->Threads(2);

}  // namespace
}  // namespace rendezvous::common

// Microbenchmarks of the stats registry's hot path (common/stats.h): what one counter increment
// and one histogram observation cost a request, on one thread and with two threads updating the
// same series (each thread in its own shard). For comparison, one plain relaxed atomic shared by
// the threads: what the sharding saves when two cores count the same series.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/stats.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/public_routes.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "http/stats.h"
#include "kv/memory_store.h"
#include "ratelimit/limiter.h"

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

namespace rendezvous::http {
namespace {

// A GET of a 100-byte value through the public Router and the key API on the memory store, with
// and without the Router's request counts (the store-operation counts are in both): the share of
// a request's CPU the metrics take, next to the whole handling.
void GetThroughRouter(benchmark::State& state, bool count_requests) {
  common::SystemClock clock;  // the real clock reads are part of the cost
  common::StatsRegistry registry;
  kv::MemoryStore store({.max_entries = 1000, .shards = 4});
  ratelimit::Limiter limiter({.capacity_tokens = 1'000'000'000, .table_slots = 1024});
  IndexPage page(IndexPageOptions{});
  IndexHandler index(page, clock);
  HandlerOptions options;
  options.stats = &registry;
  Handler keys(options, store, limiter, clock);
  RequestStats request_stats(registry);
  Router router(PublicRoutes(index), keys, clock, count_requests ? &request_stats : nullptr);

  Request post;
  post.method = Method::kPost;
  post.target = "/bench/key";
  post.host = "bench";
  const std::string value(100, 'v');
  post.body = value;
  Response response;
  router.Handle(post, response, [] {});
  Request get = post;
  get.method = Method::kGet;
  get.body = {};
  for (auto _ : state) {
    router.Handle(get, response, [] {});
    benchmark::DoNotOptimize(response.status);
  }
  if (response.status != 200) state.SkipWithError("the GET did not answer 200");
}

void BM_GetThroughRouter_WithRequestStats(benchmark::State& state) {
  GetThroughRouter(state, true);
}
BENCHMARK(BM_GetThroughRouter_WithRequestStats);

void BM_GetThroughRouter_WithoutRequestStats(benchmark::State& state) {
  GetThroughRouter(state, false);
}
BENCHMARK(BM_GetThroughRouter_WithoutRequestStats);

}  // namespace
}  // namespace rendezvous::http

// Microbenchmarks of the two Store engines over 100 000 keys, the population of the HTTP
// POST workloads in bench/run.sh:
//   - Get of a random existing key (100-byte values) and of a missing key;
//   - Put overwriting a random key with a 200-byte value. For LMDB, Put completes on the writer
//     thread (group commit); the benchmark keeps kLmdbWindow writes outstanding, as 64
//     connections of wrk do, and counts completed writes, so its time per item is the
//     throughput of the writer, not the cost of queueing.
// LMDB files live in a fresh directory under $TMPDIR (or /tmp), removed afterwards.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kv/lmdb_store.h"
#include "kv/memory_store.h"

namespace rendezvous::kv {
namespace {

constexpr size_t kKeys = 100000;
constexpr size_t kLmdbWindow = 64;

std::vector<std::string> MakeKeys() {
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (size_t i = 0; i < kKeys; ++i) keys.push_back("bench/k" + std::to_string(i));
  return keys;
}

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = MakeKeys();
  return keys;
}

// A random permutation of key indexes, so lookups do not walk the keys in insertion order.
const std::vector<uint32_t>& Order() {
  static const std::vector<uint32_t> order = [] {
    std::vector<uint32_t> v(kKeys);
    for (size_t i = 0; i < kKeys; ++i) v[i] = static_cast<uint32_t>(i);
    std::shuffle(v.begin(), v.end(), std::mt19937(7));
    return v;
  }();
  return order;
}

// Counts completions of asynchronous writes and lets the benchmark thread wait for them.
class Completions {
 public:
  void Done(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (status != Status::kOk) ++failed_;
    cv_.notify_one();
  }
  // Blocks until at most `outstanding` of the first `submitted` writes are incomplete.
  void WaitUntil(size_t submitted, size_t outstanding) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ + outstanding >= submitted; });
  }
  size_t failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t done_ = 0;
  size_t failed_ = 0;
};

// Writes every key once with a value of `value_bytes`, waiting for the writes to complete.
PutRequest MakePut(std::string_view key, std::string_view value, absl::Time now) {
  PutRequest request;
  request.key = key;
  request.value = value;
  request.now = now;
  request.expires_at = now + absl::Hours(2);
  return request;
}

bool Fill(Store& store, size_t value_bytes) {
  Completions completions;
  const std::string value(value_bytes, 'v');
  const absl::Time now = absl::Now();
  size_t submitted = 0;
  for (const std::string& key : Keys()) {
    store.Put(MakePut(key, value, now),
              [&completions](const WriteResult& r) { completions.Done(r.status); });
    ++submitted;
    completions.WaitUntil(submitted, 4096);
  }
  completions.WaitUntil(submitted, 0);
  return completions.failed() == 0;
}

void GetLoop(benchmark::State& state, Store& store, bool hit) {
  const std::vector<std::string>& keys = Keys();
  const std::vector<uint32_t>& order = Order();
  const std::string missing = "bench/missing";
  const absl::Time now = absl::Now();
  size_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    const std::string& key = hit ? keys[order[i]] : missing;
    store.Get(key, now, [&found](const GetResult& r) {
      found += r.status == Status::kOk ? 1 : 0;
      benchmark::DoNotOptimize(r.entry.value.data());
    });
    i = i + 1 == kKeys ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["found"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()));
}

// For an engine that completes inline (the memory store): no synchronisation in the loop.
void PutLoopInline(benchmark::State& state, Store& store) {
  const std::vector<std::string>& keys = Keys();
  const std::vector<uint32_t>& order = Order();
  const std::string value(200, 'w');
  size_t failed = 0;
  size_t i = 0;
  for (auto _ : state) {
    const absl::Time now = absl::Now();
    store.Put(MakePut(keys[order[i]], value, now),
              [&failed](const WriteResult& r) { failed += r.status != Status::kOk; });
    i = i + 1 == kKeys ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
  if (failed != 0) state.SkipWithError("a Put failed");
}

// For an engine that completes on its own thread: at most `window` writes outstanding.
void PutLoopWindowed(benchmark::State& state, Store& store, size_t window) {
  const std::vector<std::string>& keys = Keys();
  const std::vector<uint32_t>& order = Order();
  const std::string value(200, 'w');
  Completions completions;
  size_t submitted = 0;
  size_t i = 0;
  for (auto _ : state) {
    const absl::Time now = absl::Now();
    store.Put(MakePut(keys[order[i]], value, now),
              [&completions](const WriteResult& r) { completions.Done(r.status); });
    ++submitted;
    completions.WaitUntil(submitted, window);
    i = i + 1 == kKeys ? 0 : i + 1;
  }
  completions.WaitUntil(submitted, 0);
  state.SetItemsProcessed(state.iterations());
  if (completions.failed() != 0) state.SkipWithError("a Put failed");
}

MemoryStore& FilledMemoryStore() {
  static MemoryStore store({.max_entries = 2 * kKeys});
  static const bool filled = Fill(store, 100);
  if (!filled) std::fprintf(stderr, "memory store fill failed\n");
  return store;
}

void BM_MemoryStore_GetHit(benchmark::State& state) {
  GetLoop(state, FilledMemoryStore(), /*hit=*/true);
}
BENCHMARK(BM_MemoryStore_GetHit);

void BM_MemoryStore_GetMiss(benchmark::State& state) {
  GetLoop(state, FilledMemoryStore(), /*hit=*/false);
}
BENCHMARK(BM_MemoryStore_GetMiss);

void BM_MemoryStore_PutOverwrite200(benchmark::State& state) {
  PutLoopInline(state, FilledMemoryStore());
}
BENCHMARK(BM_MemoryStore_PutOverwrite200);

// One LMDB store for all LMDB benchmarks, in a temporary directory removed at exit.
class LmdbFixture {
 public:
  static LmdbFixture& Get() {
    static LmdbFixture fixture;
    return fixture;
  }
  LmdbStore* store() { return store_.get(); }
  const std::string& error() const { return error_; }

  ~LmdbFixture() {
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

 private:
  LmdbFixture() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/rdv-micro-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    LmdbStore::Options options;
    options.path = dir_ + "/store.db";
    options.max_entries = 2 * kKeys;
    store_ = LmdbStore::Open(options, &error_);
    if (store_ != nullptr && !Fill(*store_, 100)) error_ = "LMDB fill failed";
  }

  std::string dir_;
  std::string error_;
  std::unique_ptr<LmdbStore> store_;
};

void BM_LmdbStore_GetHit(benchmark::State& state) {
  LmdbFixture& fixture = LmdbFixture::Get();
  if (fixture.store() == nullptr || !fixture.error().empty()) {
    state.SkipWithError(fixture.error().c_str());
    return;
  }
  GetLoop(state, *fixture.store(), /*hit=*/true);
}
BENCHMARK(BM_LmdbStore_GetHit);

void BM_LmdbStore_GetMiss(benchmark::State& state) {
  LmdbFixture& fixture = LmdbFixture::Get();
  if (fixture.store() == nullptr || !fixture.error().empty()) {
    state.SkipWithError(fixture.error().c_str());
    return;
  }
  GetLoop(state, *fixture.store(), /*hit=*/false);
}
BENCHMARK(BM_LmdbStore_GetMiss);

void BM_LmdbStore_PutOverwrite200(benchmark::State& state) {
  LmdbFixture& fixture = LmdbFixture::Get();
  if (fixture.store() == nullptr || !fixture.error().empty()) {
    state.SkipWithError(fixture.error().c_str());
    return;
  }
  PutLoopWindowed(state, *fixture.store(), kLmdbWindow);
}
// Real time: the work happens on the writer thread, not the benchmark's.
BENCHMARK(BM_LmdbStore_PutOverwrite200)->UseRealTime();

}  // namespace
}  // namespace rendezvous::kv

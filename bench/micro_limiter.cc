// Microbenchmarks of ratelimit::Limiter::Take, the check every key request pays.
//
// Clients are public-looking random IPv4 addresses (what bench/run.sh sends through
// X-Forwarded-For) or one fixed address. Time advances by kStep per call, about one request
// every 8 µs as at 120 k req/s, so buckets refill the way they do under load. Two capacities:
// the benchmark's (-maxRequests 1e9: a bucket is full again within nanoseconds, so the table
// stays nearly empty) and the default 11 per minute (every client seen in the last ~5 s holds a
// non-full bucket: at this rate the table fills and every new client evicts one).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "ratelimit/limiter.h"

namespace rendezvous::ratelimit {
namespace {

constexpr absl::Duration kStep = absl::Nanoseconds(8333);
constexpr size_t kClientCount = size_t{1} << 20;

uint32_t RandomPublicIpv4(std::mt19937& rng) {
  for (;;) {
    const uint32_t address = static_cast<uint32_t>(rng());
    const uint32_t first = address >> 24;
    if (first == 0 || first == 10 || first == 127 || first == 172 || first == 192 || first >= 224) {
      continue;
    }
    return address;
  }
}

const std::vector<ClientKey>& RandomClients() {
  static const std::vector<ClientKey> clients = [] {
    std::mt19937 rng(42);
    std::vector<ClientKey> keys;
    keys.reserve(kClientCount);
    for (size_t i = 0; i < kClientCount; ++i) {
      keys.push_back(ClientKey::For(common::IpAddress::FromV4(RandomPublicIpv4(rng)), 64));
    }
    return keys;
  }();
  return clients;
}

void TakeRandom(benchmark::State& state, int64_t capacity) {
  const std::vector<ClientKey>& clients = RandomClients();
  Limiter limiter({.capacity_tokens = capacity, .refill_period = absl::Minutes(1)});
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  size_t i = 0;
  int64_t refused = 0;
  for (auto _ : state) {
    const Decision decision = limiter.Take(clients[i], 1, now);
    refused += decision.allowed ? 0 : 1;
    i = (i + 1) & (kClientCount - 1);
    now += kStep;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["refused"] = static_cast<double>(refused);
  state.counters["evictions"] = static_cast<double>(limiter.evictions());
}

void BM_LimiterTake_RandomClients_Capacity1e9(benchmark::State& state) {
  TakeRandom(state, 1'000'000'000);
}
BENCHMARK(BM_LimiterTake_RandomClients_Capacity1e9);

void BM_LimiterTake_RandomClients_Capacity11(benchmark::State& state) { TakeRandom(state, 11); }
BENCHMARK(BM_LimiterTake_RandomClients_Capacity11);

void TakeFixed(benchmark::State& state, int64_t capacity, int64_t cost) {
  const ClientKey client = ClientKey::For(common::IpAddress::FromV4(0xCB007107), 64);
  Limiter limiter({.capacity_tokens = capacity, .refill_period = absl::Minutes(1)});
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  int64_t refused = 0;
  for (auto _ : state) {
    const Decision decision = limiter.Take(client, cost, now);
    refused += decision.allowed ? 0 : 1;
    now += kStep;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["refused"] = static_cast<double>(refused);
}

// One client whose requests pass (GET, 1 token).
void BM_LimiterTake_FixedClient_Allowed(benchmark::State& state) {
  TakeFixed(state, 1'000'000'000, 1);
}
BENCHMARK(BM_LimiterTake_FixedClient_Allowed);

// Workload (5): one client over its limit; nearly every call is a refusal.
void BM_LimiterTake_FixedClient_OverLimit(benchmark::State& state) { TakeFixed(state, 1, 1); }
BENCHMARK(BM_LimiterTake_FixedClient_OverLimit);

}  // namespace
}  // namespace rendezvous::ratelimit

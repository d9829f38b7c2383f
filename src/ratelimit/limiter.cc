// Limiter: GCRA arithmetic and the set-associative client table.
#include "ratelimit/limiter.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <memory>
#include <mutex>
#include <new>

#include "absl/hash/hash.h"

namespace rendezvous::ratelimit {
namespace {

constexpr size_t kWays = 8;
constexpr size_t kMaxShards = 64;
constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kMaxSlots = size_t{1} << 32;

// A slot whose tat is at or before "now" holds a full bucket, which is the same as no entry.
// kFreeTat is before any real time, so fresh slots are free.
constexpr int64_t kFreeTat = std::numeric_limits<int64_t>::min();

// Times are kept within +-2^62 ns (about 146 years around 1970) so that tat + cost*T and
// now + burst cannot overflow even for absl::InfiniteFuture().
constexpr int64_t kTimeLimitNanos = int64_t{1} << 62;

struct Slot {
  ClientKey key;
  int64_t tat_nanos = kFreeTat;  // theoretical arrival time, Unix nanoseconds
};
static_assert(sizeof(Slot) == 24);

}  // namespace

ClientKey ClientKey::For(const common::IpAddress& address, int ipv6_prefix_bits) {
  ClientKey key;
  key.bytes = address.is_v4() ? address.bytes() : address.Masked(ipv6_prefix_bits).bytes();
  return key;
}

// Cache-line aligned so that two shards' mutexes never share a line.
//
// std::mutex rather than absl::Mutex: Debian's Abseil is not built with ThreadSanitizer, so TSan
// cannot see absl::Mutex's synchronization and reports false races; pthread mutexes it sees.
struct alignas(64) Limiter::Shard {
  std::mutex mu;
  Slot* slots = nullptr;  // sets_per_shard_ * kWays of the Limiter's table; guarded by mu
};

Limiter::Limiter(const Options& options)
    : options_(options),
      evictions_(options.evictions != nullptr ? options.evictions : &own_evictions_) {
  options_.capacity_tokens = std::max<int64_t>(1, options_.capacity_tokens);
  const int64_t period_nanos = std::clamp<int64_t>(absl::ToInt64Nanoseconds(options_.refill_period),
                                                   options_.capacity_tokens, kTimeLimitNanos);
  options_.refill_period = absl::Nanoseconds(period_nanos);
  emission_interval_nanos_ = period_nanos / options_.capacity_tokens;
  burst_nanos_ = emission_interval_nanos_ * options_.capacity_tokens;

  slot_count_ = std::bit_ceil(std::clamp(options_.table_slots, kWays, kMaxSlots));
  options_.table_slots = slot_count_;
  const size_t sets = slot_count_ / kWays;
  shard_count_ = std::min(kMaxShards, sets);
  sets_per_shard_ = sets / shard_count_;
  // One table for every shard, in huge pages where the kernel allows them: a request touches one
  // set at random, and with 4 KiB pages each such touch would also miss the TLB (the default
  // table is 6 MiB: 1 536 small pages, 3 huge ones).
  const size_t table_bytes = slot_count_ * sizeof(Slot);
  const size_t rounded = (table_bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* memory = std::aligned_alloc(kHugePageBytes, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  if (table_bytes >= kHugePageBytes) ::madvise(memory, rounded, MADV_HUGEPAGE);  // a hint
  table_.reset(static_cast<char*>(memory));
  Slot* const slots = std::uninitialized_value_construct_n(static_cast<Slot*>(memory), slot_count_) -
                      slot_count_;
  shards_ = std::make_unique<Shard[]>(shard_count_);
  for (size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    shards_[i].slots = slots + i * sets_per_shard_ * kWays;
  }
}

Limiter::~Limiter() = default;

size_t Limiter::MemoryBytes() const {
  return shard_count_ * sizeof(Shard) + slot_count_ * sizeof(Slot);
}

void Limiter::Prefetch(const ClientKey& client) const {
  const size_t hash = absl::Hash<ClientKey>{}(client);
  const Shard& shard = shards_[hash & (shard_count_ - 1)];
  const size_t set_index = (hash / shard_count_) & (sets_per_shard_ - 1);
  __builtin_prefetch(&shard, /*rw=*/1);
  // The set's slots (kWays * 24 bytes) span three or four cache lines; the pointer is read
  // without the lock, but it is set once at construction.
  const char* set = reinterpret_cast<const char*>(&shard.slots[set_index * kWays]);
  for (size_t offset = 0; offset < kWays * sizeof(Slot) + 63; offset += 64) {
    __builtin_prefetch(set + offset, /*rw=*/1);
  }
}

Decision Limiter::Take(const ClientKey& client, int64_t cost_tokens, absl::Time now) {
  const int64_t now_nanos =
      std::clamp<int64_t>(absl::ToUnixNanos(now), -kTimeLimitNanos, kTimeLimitNanos);
  const bool impossible = cost_tokens > options_.capacity_tokens;
  const int64_t cost = std::clamp<int64_t>(cost_tokens, 0, options_.capacity_tokens);

  // Low bits pick the shard, the next bits the set within it (both counts are powers of two).
  const size_t hash = absl::Hash<ClientKey>{}(client);
  Shard& shard = shards_[hash & (shard_count_ - 1)];
  const size_t set_index = (hash / shard_count_) & (sets_per_shard_ - 1);

  std::lock_guard<std::mutex> lock(shard.mu);
  Slot* const set = &shard.slots[set_index * kWays];
  Slot* match = nullptr;
  Slot* free_slot = nullptr;
  Slot* oldest = &set[0];  // smallest tat: the bucket closest to full
  for (size_t way = 0; way < kWays; ++way) {
    Slot& slot = set[way];
    if (slot.tat_nanos > kFreeTat && slot.key == client) match = &slot;
    if (slot.tat_nanos <= now_nanos && free_slot == nullptr) free_slot = &slot;
    if (slot.tat_nanos < oldest->tat_nanos) oldest = &slot;
  }

  // A missing entry is a full bucket. A tat further ahead than one burst can only come from the
  // clock moving backwards; cap it so such a client is "empty", not locked out for the jump.
  // The cap is written back (it charges nothing) so the client refills from the new "now".
  int64_t tat = now_nanos;
  if (match != nullptr) {
    match->tat_nanos = std::min(match->tat_nanos, now_nanos + burst_nanos_);
    tat = match->tat_nanos;
  }
  const int64_t start = std::max(tat, now_nanos);
  const int64_t new_tat = start + cost * emission_interval_nanos_;

  Decision decision;
  if (!impossible && new_tat - now_nanos <= burst_nanos_) {
    decision.allowed = true;
    decision.remaining_tokens = (burst_nanos_ - (new_tat - now_nanos)) / emission_interval_nanos_;
    decision.retry_after = absl::ZeroDuration();
    decision.until_full = absl::Nanoseconds(new_tat - now_nanos);
    if (cost > 0) {
      Slot* target = match != nullptr ? match : free_slot;
      if (target == nullptr) {
        target = oldest;
        evictions_->Increment();
      }
      target->key = client;
      target->tat_nanos = new_tat;
    }
    return decision;
  }
  // Refused: nothing is charged.
  decision.allowed = false;
  decision.remaining_tokens = (burst_nanos_ - (start - now_nanos)) / emission_interval_nanos_;
  decision.retry_after =
      impossible ? absl::InfiniteDuration() : absl::Nanoseconds(new_tat - now_nanos - burst_nanos_);
  decision.until_full = absl::Nanoseconds(start - now_nanos);
  return decision;
}

}  // namespace rendezvous::ratelimit

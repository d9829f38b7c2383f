// Limiter: per-client token buckets (GCRA) in a fixed-size table with bounded memory.
//
// Each client has a bucket of `capacity_tokens` tokens, refilled continuously at
// `capacity_tokens` per `refill_period` (-maxRequests per -resetDuration). A request
// that costs n tokens passes when the bucket holds n; a refused request takes nothing. The state
// per client is one "theoretical arrival time" (GCRA), so a client whose bucket is full needs no
// entry at all: such entries are free slots.
//
// The arithmetic is integer nanoseconds: the emission interval T = refill_period / capacity
// (rounded down, at least 1 ns) and the burst tolerance is capacity * T. A request of cost n at
// time now computes new_tat = max(tat, now) + n*T and passes iff new_tat - now <= capacity * T.
//
// Memory is fixed at construction (`table_slots` entries, set-associative: 8 ways per set, sets
// spread over up to 64 independently locked shards). When every slot of a set holds a non-full
// bucket, the entry closest to full (smallest tat) is evicted; that client gets at most a full
// bucket back early. The trade-off, chosen on purpose: a flood of distinct addresses cannot grow
// memory, only evict each other, and the clients it evicts first are the ones that have used the
// least; a client that drained its bucket (the largest tat in its set) is the last to be evicted,
// so flooding does not hand a refused client a fresh bucket unless the flood itself consists of
// drained buckets, i.e. the attacker already owns that many buckets.
//
// Time must be supplied by the caller (a Clock), so tests move a ManualClock. If the clock moves
// backwards, a bucket never looks emptier than "empty now": its tat is capped at now + capacity*T.
//
// Thread-safety: Take() may be called concurrently from any thread (sharded locks).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "common/stats.h"

namespace rendezvous::ratelimit {

// Who is charged: an IPv4 address (all 32 bits), or an IPv6 address masked to the configured
// prefix (a /64 is what one customer usually gets, so it is one client). The bytes are the
// (masked) address in IpAddress form, so IPv4 and IPv6 keys can never collide.
struct ClientKey {
  std::array<uint8_t, 16> bytes{};
  // `ipv6_prefix_bits` is clamped to 0..128; it does not apply to IPv4.
  static ClientKey For(const common::IpAddress& address, int ipv6_prefix_bits);
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
  template <typename H>
  friend H AbslHashValue(H state, const ClientKey& key) {
    return H::combine_contiguous(std::move(state), key.bytes.data(), key.bytes.size());
  }
};

struct Decision {
  bool allowed = false;
  int64_t remaining_tokens = 0;  // after this request (whole tokens, rounded down)
  absl::Duration retry_after;    // when refused: exact time until the same request would
                                 // pass (the caller rounds up to whole seconds); zero if allowed;
                                 // InfiniteDuration if the cost exceeds the capacity
  absl::Duration until_full;     // time until the bucket is full again (RateLimit-Reset)
};

class Limiter {
 public:
  struct Options {
    int64_t capacity_tokens = 11;                     // -maxRequests
    absl::Duration refill_period = absl::Minutes(1);  // -resetDuration
    size_t table_slots = size_t{1} << 18;             // rounded up to a power of two, 8 .. 2^32
    // Counts evictions (rendezvous_limiter_evictions_total); must outlive the Limiter. Null: a
    // counter of the Limiter's own, still read by evictions().
    common::Counter* evictions = nullptr;
  };

  // The configuration is validated by app/; here a capacity below 1 is taken as 1 and a refill
  // period below capacity nanoseconds as capacity nanoseconds (T = 1 ns). Allocates the whole
  // table (about 24 bytes per slot) up front.
  explicit Limiter(const Options& options);
  ~Limiter();
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // Charges `cost_tokens` (1..capacity) to `client` at time `now`. A cost above the capacity is
  // always refused (retry_after = InfiniteDuration); a cost below 0 is taken as 0 (a probe that
  // changes nothing). A refused request leaves the bucket as it was.
  Decision Take(const ClientKey& client, int64_t cost_tokens, absl::Time now);

  // A hint, with no effect on any decision: starts loading `client`'s set of the table (and its
  // shard's lock) into the cache. A public server sees many clients, so the set a request needs
  // is usually cold; a caller that knows the client early calls this first, and the memory
  // latency overlaps its other work until Take. No lock is taken.
  void Prefetch(const ClientKey& client) const;

  // Bytes of memory the table occupies (fixed for the Limiter's life).
  size_t MemoryBytes() const;
  int64_t capacity_tokens() const { return options_.capacity_tokens; }
  // Slots actually allocated (table_slots rounded up).
  size_t slot_count() const { return slot_count_; }
  // How many non-full buckets have been evicted to make room since construction. A steadily
  // growing count means the table is too small for the traffic (or a flood is under way).
  uint64_t evictions() const { return evictions_->Value(); }

 private:
  struct Shard;
  Options options_;                      // after clamping
  int64_t emission_interval_nanos_ = 1;  // T
  int64_t burst_nanos_ = 1;              // capacity * T
  struct FreeTable {
    void operator()(char* table) const { std::free(table); }
  };
  std::unique_ptr<char, FreeTable> table_;  // every shard's slots (trivially destructible)
  std::unique_ptr<Shard[]> shards_;
  size_t shard_count_ = 0;
  size_t sets_per_shard_ = 0;
  size_t slot_count_ = 0;
  common::Counter own_evictions_;  // when options.evictions is null
  common::Counter* evictions_;
};

}  // namespace rendezvous::ratelimit

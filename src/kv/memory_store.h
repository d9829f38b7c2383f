// MemoryStore: the in-memory Store engine (nothing survives a restart).
//
// Layout: the key space is split over `Options::shards` shards, each a std::shared_mutex guarding
// an absl::flat_hash_map, so requests on different keys rarely contend. Gets take the shard's
// reader lock; Put, Delete and expiry purges take its writer lock. The capacity limit is global: a
// store-wide atomic counter of held entries is reserved (compare-and-swap against max_entries)
// before a new key is inserted, so concurrent creations in different shards can never push the
// count past the limit.
//
// Callbacks: every completion callback runs inline, on the calling thread, before the method
// returns. Get's callback runs while the shard's reader lock is held (its EntryView points into the
// map); Put's and Delete's run after the lock is released, as does the change listener (listener
// first, then the completion callback). Callbacks must not call back into the store.
//
// Expiry: an entry whose expires_at <= now is treated as absent by every operation, but its memory
// (and its unit of capacity) is held until it is removed. Removal happens (a) in SweepExpired,
// which walks every shard, and (b) when a new key arrives while the store is at capacity: the new
// key's own shard is purged first (only when that shard holds something already expired, so the
// work is bounded and never repeated in vain); a Delete of an expired key also frees it. Expired
// entries in other shards still count against the limit until the next SweepExpired: run it
// periodically.
//
// Key quota: each entry records its creator; a store-wide map (creator -> live entries held, an
// entry removed at 0, so its size is bounded by the entries held) guarded by its own std::mutex is
// checked and incremented under the new key's shard lock, before the capacity reservation, and
// decremented by every path that removes or replaces an entry. Lock order: shard mutex, then the
// quota mutex, never the reverse. Expired entries count until removed, as for capacity; a create
// refused by the quota first purges its own shard's expired entries, like the capacity rule. An
// entry created without a quota (max_entries_per_creator 0) is not counted and takes no shared
// lock: with -maxKeysPerIP 0 the engine scales as before. (Within one process the quota flag does
// not change, so every creator's entries are either all counted or none.)
//
// Thread-safety: all methods may be called concurrently from any thread, except SetChangeListener,
// which must be called before the store is shared between threads.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "kv/store.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

class MemoryStore final : public Store {
 public:
  struct Options {
    size_t max_entries = 100000;  // live entries at most (-maxNumKV); 0 refuses every new key
    size_t shards = 64;           // lock stripes; 0 is treated as 1
    // The first version handed out is first_version + 1. A server seeds it from the clock
    // (microseconds since the epoch), so an ETag a client kept from before a restart cannot match
    // a new value by chance.
    uint64_t first_version = 0;
  };

  // `hasher` turns owner secrets into the digests kept in memory; the default key is random, which
  // is right for an engine whose data dies with the process.
  explicit MemoryStore(const Options& options,
                       secret::Hasher hasher = secret::Hasher::WithRandomKey());
  ~MemoryStore() override;

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Store. The order of checks for a write is: owner (kForbidden), precondition
  // (kPreconditionFailed), then existence (Delete: kNotFound) or capacity (Put: kCapacityReached).
  void Get(std::string_view key, absl::Time now, GetCallback done) override;
  void Put(const PutRequest& request, WriteCallback done) override;
  void Delete(const DeleteRequest& request, WriteCallback done) override;
  // Locks one shard at a time; returns the number of entries removed.
  size_t SweepExpired(absl::Time now) override;
  // Nothing to make durable: always kOk.
  [[nodiscard]] Status Flush() override;
  // Entries held, expired-but-not-yet-removed ones included (never more than max_entries).
  size_t Size() const override;
  void SetChangeListener(ChangeListener listener) override;

 private:
  struct Entry {
    std::string value;
    uint64_t version = 0;
    absl::Time expires_at;
    bool owned = false;
    secret::Digest owner{};
    std::array<uint8_t, 16> creator{};
    bool counted = false;  // created under a quota: counted in quota_counts_ while held
  };
  struct Shard;
  using Creator = std::array<uint8_t, 16>;

  // The shared write rules (kv/write_rules.h) for a write that found `live` (null when there is
  // no live entry).
  static Status CheckWrite(const Entry* live, bool has_secret, const secret::Digest& digest,
                           const Precondition& precondition);
  Shard& ShardFor(std::string_view key);
  // Takes one unit of capacity; false when the store is full.
  bool TryReserve();
  void Release(size_t n);
  // Removes the expired entries of `shard` (writer lock held); returns how many were removed.
  size_t PurgeExpiredLocked(Shard& shard, absl::Time now);
  // Takes one unit of `creator`'s quota; false when it already holds `limit` (0 = unlimited).
  bool TryTakeQuota(const Creator& creator, uint32_t limit);
  // Gives back the unit `entry` holds, if it was counted.
  void ReleaseQuota(const Entry& entry);
  uint64_t NextVersion();
  void Notify(std::string_view key, uint64_t version);

  const size_t max_entries_;
  const size_t shard_count_;
  const secret::Hasher hasher_;
  std::unique_ptr<Shard[]> shards_;
  // Entries held in all shards plus reservations about to be inserted. Never above max_entries_.
  std::atomic<size_t> held_{0};
  // Last version handed out; versions start at first_version + 1, so 0 never names a live entry.
  std::atomic<uint64_t> last_version_;
  ChangeListener listener_;
  // Live entries held per creator (entries at 0 are erased). Taken after a shard mutex, never
  // before one.
  std::mutex quota_mu_;
  absl::flat_hash_map<Creator, uint32_t> quota_counts_;  // guarded by quota_mu_
};

}  // namespace rendezvous::kv

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
// Writes: every rule is decided by the shared planner (write_plan.h); under the key's shard lock
// the engine only looks up, removes, reserves units and writes.
//
// Expiry: an entry whose expires_at <= now is treated as absent by every operation, and it never
// costs a live entry its place. Its memory (and its unit of capacity and of quota) is held until
// it is removed: by SweepExpired, which walks every shard; by a write of its own key; and on
// demand when a creation finds the store at capacity or its creator at its quota. A creation
// refused for capacity walks round the shards (from where the previous walk stopped) purging
// expired entries until one was freed, then tries once more; one refused for quota purges its
// creator's expired entries, then tries once more. Both purges run after the shard lock was
// released (a shard lock is never held while another is taken), so the retry plans afresh. Each
// shard and each creator keeps a lower bound of its entries' expiry, so a purge that cannot free
// anything is skipped without a scan, and a scan in vain makes the bound exact again.
//
// Key quota: an entry created under a quota (max_entries_per_creator != 0) is "counted": the
// store-wide map creator -> the keys of its counted entries (a creator with none is erased, so
// the map is bounded by the entries held), guarded by its own std::mutex, gains the key when the
// entry is created and loses it whenever the entry is removed. Lock order: a shard mutex, then the
// quota mutex, never the reverse. With a quota each counted key is held twice (entry and map);
// that is the price of purging one creator's expired entries in O(its quota). An entry created
// without a quota is not counted and takes no shared lock: with -maxKeysPerIP 0 the engine scales
// as before. (Within one process the quota flag does not change, so every creator's entries are
// either all counted or none.)
//
// Listings (announcement.h): the map name -> (address -> version and expiry of its record), guarded
// by its own std::mutex, gains or updates a member whenever an announcement is written and loses
// it whenever the record is removed, under the record's shard lock (lock order: a shard mutex,
// then the names mutex; the quota and names mutexes are never held together). A name without
// members is erased. List counts the live members and draws its sample under the names mutex,
// then reads each sampled record under its shard's reader lock, one shard at a time: a record
// removed in between is left out (total stays what was counted), and one rewritten in between is
// listed with its new value. Only keys under "ip/" pay anything for this.
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
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "kv/store.h"
#include "kv/write_plan.h"
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
    // Input limits (-maxKeySize, -maxValueSize); see Store::Put for what breaking them answers.
    InputLimits limits{};
  };

  // `hasher` turns owner secrets into the digests kept in memory; the default key is random, which
  // is right for an engine whose data dies with the process.
  explicit MemoryStore(const Options& options,
                       secret::Hasher hasher = secret::Hasher::WithRandomKey());
  ~MemoryStore() override;

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Store (the rules and their order: store.h and write_plan.h).
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
  void List(const ListRequest& request, ListCallback done) override;

 private:
  struct Entry {
    std::string value;
    uint64_t version = 0;
    absl::Time expires_at;
    bool owned = false;
    secret::Digest owner{};
    Creator creator{};
    bool counted = false;  // created under a quota: its key is in quota_[creator] while held
  };
  struct Shard;
  // The keys of one creator's counted entries.
  struct CreatorKeys {
    absl::flat_hash_set<std::string> keys;
    // No counted entry of this creator expires before this (a lower bound); see PurgeCreator.
    absl::Time earliest_expiry = absl::InfiniteFuture();
  };
  // What kept one attempt of a Put from completing.
  enum class Missing : uint8_t { kNothing, kQuotaUnit, kCapacityUnit };

  // The key's hash, as the shards' maps compute it: computed once per operation, it picks the
  // shard and is passed to the map's find(key, hash).
  static size_t KeyHash(std::string_view key);
  Shard& ShardFor(size_t key_hash);
  Shard& ShardFor(std::string_view key) { return ShardFor(KeyHash(key)); }
  // One attempt of a Put, under the key's shard lock; sets *result.
  Missing TryPut(const PutRequest& request, const secret::Digest* digest, WriteResult* result);
  // Takes one unit of capacity; false when the store is full.
  bool TryReserve();
  void Release(size_t n);
  // Removes the expired entries of `shard` (writer lock held); returns how many were removed.
  size_t PurgeExpiredLocked(Shard& shard, absl::Time now);
  // Walks round the shards from where the last walk stopped, purging expired entries until at
  // least one was removed or every shard was seen. Takes one shard lock at a time; returns how
  // many were removed.
  size_t PurgeSomeExpired(absl::Time now);
  // Removes `creator`'s expired counted entries, one shard lock at a time; returns how many.
  size_t PurgeCreator(const Creator& creator, absl::Time now);
  // Takes one unit of `creator`'s quota for `key`; false when it holds `limit` already. Called
  // only with limit != 0.
  bool TryTakeQuota(const Creator& creator, std::string_view key, uint32_t limit,
                    absl::Time expires_at);
  // Gives back the unit the entry under `key` holds, if it was counted.
  void ReleaseQuota(std::string_view key, const Entry& entry);
  // A counted entry's expiry moved to `expires_at`: keeps its creator's bound a lower bound.
  void NoteCountedExpiry(const Creator& creator, absl::Time expires_at);
  // The listing index: an announcement's record under `key` was written / removed.
  void IndexWritten(std::string_view key, uint64_t version, absl::Time expires_at);
  void IndexRemoved(std::string_view key);
  uint64_t NextVersion();
  void Notify(std::string_view key, uint64_t version);

  const size_t max_entries_;
  const size_t shard_count_;
  const InputLimits limits_;
  const secret::Hasher hasher_;
  std::unique_ptr<Shard[]> shards_;
  // Entries held in all shards plus reservations about to be inserted. Never above max_entries_.
  std::atomic<size_t> held_{0};
  // Last version handed out; versions start at first_version + 1, so 0 never names a live entry.
  std::atomic<uint64_t> last_version_;
  // Where the next PurgeSomeExpired starts.
  std::atomic<size_t> purge_cursor_{0};
  ChangeListener listener_;
  // Counted entries per creator. Taken after a shard mutex, never before one.
  std::mutex quota_mu_;
  absl::flat_hash_map<Creator, CreatorKeys> quota_;  // guarded by quota_mu_
  // The listing index: name -> address -> the announcement's record. Taken after a shard mutex,
  // never before one.
  struct NameMember {
    uint64_t version = 0;
    absl::Time expires_at;
  };
  std::mutex names_mu_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, NameMember>>
      names_;  // guarded by names_mu_
};

}  // namespace rendezvous::kv

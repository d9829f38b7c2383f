// The in-memory Store engine. See memory_store.h for the locking and expiry design.
#include "kv/memory_store.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "kv/write_rules.h"

namespace rendezvous::kv {
namespace {

// Debian's Abseil is built with its own absl::string_view, not std::string_view; the maps'
// heterogeneous lookup (no std::string built per request) takes the former.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

// Aligned to a cache line so that two shards' mutexes never share one under contention.
//
// Why std::shared_mutex and not absl::Mutex: Debian's Abseil is a prebuilt shared library without
// ThreadSanitizer annotations, so under TSan every absl::Mutex-protected access is reported as a
// race; pthread's rwlock (behind std::shared_mutex) is intercepted by TSan and performs alike.
struct alignas(64) MemoryStore::Shard {
  std::shared_mutex mu;
  // Everything below is guarded by `mu`.
  absl::flat_hash_map<std::string, Entry> entries;
  // No entry of this shard expires before this time (a lower bound: updates and deletes may leave
  // it early). Lets a purge skip a shard that cannot hold anything expired; each full scan makes it
  // exact again, so a shard is scanned in vain at most once per stale bound.
  absl::Time earliest_expiry = absl::InfiniteFuture();
};

MemoryStore::MemoryStore(const Options& options, secret::Hasher hasher)
    : max_entries_(options.max_entries),
      shard_count_(std::max<size_t>(options.shards, 1)),
      hasher_(std::move(hasher)),
      shards_(std::make_unique<Shard[]>(shard_count_)),
      last_version_(options.first_version) {}

MemoryStore::~MemoryStore() = default;

MemoryStore::Shard& MemoryStore::ShardFor(std::string_view key) {
  // The maps hash the same key with the same absl::Hash; taking the shard from the raw hash would
  // leave the keys of one shard sharing hash bits the map relies on (its control bytes and probe
  // start). Mixing first (splitmix64 finaliser) makes the shard index independent of those bits.
  uint64_t h = absl::Hash<absl::string_view>{}(AsAbsl(key));
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return shards_[h % shard_count_];
}

bool MemoryStore::TryReserve() {
  size_t held = held_.load(std::memory_order_relaxed);
  do {
    if (held >= max_entries_) return false;
  } while (!held_.compare_exchange_weak(held, held + 1, std::memory_order_relaxed));
  return true;
}

void MemoryStore::Release(size_t n) {
  if (n > 0) held_.fetch_sub(n, std::memory_order_relaxed);
}

bool MemoryStore::TryTakeQuota(const Creator& creator, uint32_t limit) {
  if (limit == 0) return true;  // no quota: nothing counted, and no shared lock taken
  std::lock_guard lock(quota_mu_);
  auto it = quota_counts_.find(creator);
  if (it == quota_counts_.end()) {
    quota_counts_.emplace(creator, 1);
    return true;
  }
  if (limit != 0 && it->second >= limit) return false;
  ++it->second;
  return true;
}

void MemoryStore::ReleaseQuota(const Entry& entry) {
  if (!entry.counted) return;
  const Creator& creator = entry.creator;
  std::lock_guard lock(quota_mu_);
  auto it = quota_counts_.find(creator);
  if (it == quota_counts_.end()) return;  // cannot happen: every held entry was counted
  if (--it->second == 0) quota_counts_.erase(it);
}

uint64_t MemoryStore::NextVersion() {
  return last_version_.fetch_add(1, std::memory_order_relaxed) + 1;
}

void MemoryStore::Notify(std::string_view key, uint64_t version) {
  if (listener_) listener_(key, version);
}

size_t MemoryStore::PurgeExpiredLocked(Shard& shard, absl::Time now) {
  if (shard.earliest_expiry > now) return 0;
  size_t removed = 0;
  absl::Time earliest = absl::InfiniteFuture();
  for (auto it = shard.entries.begin(); it != shard.entries.end();) {
    if (it->second.expires_at <= now) {
      ReleaseQuota(it->second);
      shard.entries.erase(it++);  // erasing does not invalidate other iterators
      ++removed;
    } else {
      earliest = std::min(earliest, it->second.expires_at);
      ++it;
    }
  }
  shard.earliest_expiry = earliest;
  Release(removed);
  return removed;
}

Status MemoryStore::CheckWrite(const Entry* live, bool has_secret, const secret::Digest& digest,
                               const Precondition& precondition) {
  if (live == nullptr) return kv::CheckWrite(nullptr, has_secret, digest, precondition);
  const LiveEntry entry{live->owned, &live->owner, live->version};
  return kv::CheckWrite(&entry, has_secret, digest, precondition);
}

void MemoryStore::Get(std::string_view key, absl::Time now, GetCallback done) {
  Shard& shard = ShardFor(key);
  std::shared_lock lock(shard.mu);
  auto it = shard.entries.find(AsAbsl(key));
  GetResult result;
  if (it != shard.entries.end() && it->second.expires_at > now) {
    const Entry& entry = it->second;
    result.status = Status::kOk;
    result.entry = EntryView{entry.value, entry.version, entry.expires_at};
  }
  // Under the reader lock: the view points into the map.
  done(result);
}

void MemoryStore::Put(const PutRequest& request, WriteCallback done) {
  const bool has_secret = !request.secret.empty();
  // Hashing costs a microsecond or so: do it before taking the lock.
  secret::Digest digest{};
  if (has_secret) digest = hasher_.Hash(request.secret);

  WriteResult result;
  Shard& shard = ShardFor(request.key);
  {
    std::unique_lock lock(shard.mu);
    auto it = shard.entries.find(AsAbsl(request.key));
    bool found = it != shard.entries.end();
    const bool live = found && it->second.expires_at > request.now;
    result.status =
        CheckWrite(live ? &it->second : nullptr, has_secret, digest, request.precondition);
    // A creation over an expired entry of the same key first removes that entry (giving back its
    // creator's quota and its unit of capacity), then proceeds as for a new key: a unit of the
    // creator's quota, then a unit of capacity. (Under a race at a full store another shard may
    // take the unit given back first: this write is then refused with kCapacityReached, as any
    // other creation would be.)
    if (result.status == Status::kOk && found && !live) {
      ReleaseQuota(it->second);
      shard.entries.erase(it);
      Release(1);
      found = false;
    }
    if (result.status == Status::kOk && !live) {
      const uint32_t limit = request.max_entries_per_creator;
      if (!TryTakeQuota(request.creator, limit) &&
          !(PurgeExpiredLocked(shard, request.now) > 0 && TryTakeQuota(request.creator, limit))) {
        result.status = Status::kQuotaReached;
      }
    }
    if (result.status == Status::kOk && !found) {
      if (TryReserve() || (PurgeExpiredLocked(shard, request.now) > 0 && TryReserve())) {
        it = shard.entries.emplace(std::string(request.key), Entry{}).first;
      } else {
        if (request.max_entries_per_creator != 0) {
          Entry taken;  // gives back the unit taken above
          taken.creator = request.creator;
          taken.counted = true;
          ReleaseQuota(taken);
        }
        result.status = Status::kCapacityReached;
      }
    }
    if (result.status == Status::kOk) {
      Entry& entry = it->second;
      if (!live) {
        // A creation (an expired entry of the key, if any, was removed above with its owner).
        entry.owned = has_secret;
        entry.owner = digest;
        entry.creator = request.creator;
        entry.counted = request.max_entries_per_creator != 0;
      } else if (!entry.owned && has_secret) {
        entry.owned = true;  // anyone may claim an unowned key (as the original server)
        entry.owner = digest;
      }
      entry.value.assign(request.value);
      entry.version = NextVersion();
      entry.expires_at = request.expires_at;
      shard.earliest_expiry = std::min(shard.earliest_expiry, request.expires_at);
      result.version = entry.version;
      result.expires_at = entry.expires_at;
      result.created = !live;
    }
  }
  if (result.status == Status::kOk) Notify(request.key, result.version);
  done(result);
}

void MemoryStore::Delete(const DeleteRequest& request, WriteCallback done) {
  const bool has_secret = !request.secret.empty();
  secret::Digest digest{};
  if (has_secret) digest = hasher_.Hash(request.secret);

  WriteResult result;
  Shard& shard = ShardFor(request.key);
  {
    std::unique_lock lock(shard.mu);
    auto it = shard.entries.find(AsAbsl(request.key));
    const bool found = it != shard.entries.end();
    const bool live = found && it->second.expires_at > request.now;
    result.status =
        CheckWrite(live ? &it->second : nullptr, has_secret, digest, request.precondition);
    if (result.status == Status::kOk && !live) result.status = Status::kNotFound;
    // Remove a deleted entry, and an expired one while the lock is held anyway.
    if (found && (result.status == Status::kOk || !live)) {
      ReleaseQuota(it->second);
      shard.entries.erase(it);
      Release(1);
    }
  }
  if (result.status == Status::kOk) Notify(request.key, 0);
  done(result);
}

size_t MemoryStore::SweepExpired(absl::Time now) {
  size_t removed = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::unique_lock lock(shard.mu);
    removed += PurgeExpiredLocked(shard, now);
  }
  return removed;
}

Status MemoryStore::Flush() { return Status::kOk; }

size_t MemoryStore::Size() const { return held_.load(std::memory_order_relaxed); }

void MemoryStore::SetChangeListener(ChangeListener listener) { listener_ = std::move(listener); }

}  // namespace rendezvous::kv

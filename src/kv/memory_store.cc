// The in-memory Store engine. See memory_store.h for the locking and expiry design.
#include "kv/memory_store.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "kv/announcement.h"

namespace rendezvous::kv {
namespace {

// Debian's Abseil is built with its own absl::string_view, not std::string_view; the maps'
// heterogeneous lookup (no std::string built per request) takes the former.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

WriteResult Refused(Status status) {
  WriteResult result;
  result.status = status;
  return result;
}

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
      limits_(options.limits),
      hasher_(std::move(hasher)),
      shards_(std::make_unique<Shard[]>(shard_count_)),
      last_version_(options.first_version) {}

MemoryStore::~MemoryStore() = default;

size_t MemoryStore::KeyHash(std::string_view key) {
  return decltype(Shard::entries)::hasher{}(AsAbsl(key));
}

MemoryStore::Shard& MemoryStore::ShardFor(size_t key_hash) {
  // The maps hash the same key with the same hash; taking the shard from the raw hash would
  // leave the keys of one shard sharing hash bits the map relies on (its control bytes and probe
  // start). Mixing first (splitmix64 finaliser) makes the shard index independent of those bits.
  uint64_t h = key_hash;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return shards_[h % shard_count_];
}

bool MemoryStore::TryReserve() {
  size_t held = held_.load(std::memory_order_relaxed);
  do {
    if (!CapacityAllows(held, max_entries_)) return false;
  } while (!held_.compare_exchange_weak(held, held + 1, std::memory_order_relaxed));
  return true;
}

void MemoryStore::Release(size_t n) {
  if (n > 0) held_.fetch_sub(n, std::memory_order_relaxed);
}

bool MemoryStore::TryTakeQuota(const Creator& creator, std::string_view key, uint32_t limit,
                               absl::Time expires_at) {
  std::lock_guard lock(quota_mu_);
  CreatorKeys& mine = quota_[creator];
  if (!QuotaAllows(mine.keys.size(), limit)) return false;  // never empty here: limit != 0
  mine.keys.emplace(key);
  mine.earliest_expiry = std::min(mine.earliest_expiry, expires_at);
  return true;
}

void MemoryStore::ReleaseQuota(std::string_view key, const Entry& entry) {
  if (!entry.counted) return;
  std::lock_guard lock(quota_mu_);
  auto it = quota_.find(entry.creator);
  if (it == quota_.end()) return;  // cannot happen: every counted entry is in the map
  it->second.keys.erase(AsAbsl(key));
  if (it->second.keys.empty()) quota_.erase(it);
}

void MemoryStore::NoteCountedExpiry(const Creator& creator, absl::Time expires_at) {
  std::lock_guard lock(quota_mu_);
  auto it = quota_.find(creator);
  if (it != quota_.end()) {
    it->second.earliest_expiry = std::min(it->second.earliest_expiry, expires_at);
  }
}

void MemoryStore::IndexWritten(std::string_view key, uint64_t version, absl::Time expires_at) {
  const std::optional<Announcement> announcement = ParseAnnouncement(key);
  if (!announcement) return;
  std::lock_guard lock(names_mu_);
  names_[AsAbsl(announcement->name)][AsAbsl(announcement->address)] =
      NameMember{version, expires_at};
}

void MemoryStore::IndexRemoved(std::string_view key) {
  const std::optional<Announcement> announcement = ParseAnnouncement(key);
  if (!announcement) return;
  std::lock_guard lock(names_mu_);
  auto it = names_.find(AsAbsl(announcement->name));
  if (it == names_.end()) return;  // cannot happen: every announcement is indexed
  it->second.erase(AsAbsl(announcement->address));
  if (it->second.empty()) names_.erase(it);
}

void MemoryStore::List(const ListRequest& request, ListCallback done) {
  ListResult result;
  result.status = Status::kOk;
  std::vector<std::string> sampled;
  {
    std::lock_guard lock(names_mu_);
    auto it = names_.find(AsAbsl(request.name));
    if (it != names_.end()) {
      // Two passes over the name's members: count (and fingerprint) the live ones, then pick the
      // sampled ones out of them. The map does not change in between: the mutex is held.
      for (const auto& [address, member] : it->second) {
        if (member.expires_at <= request.now) continue;
        ++result.total;
        result.fingerprint = AddToFingerprint(result.fingerprint, member.version);
      }
      std::vector<uint32_t> chosen = SampleIndices(result.total, request.limit, request.seed);
      std::sort(chosen.begin(), chosen.end());
      sampled.reserve(chosen.size());
      uint32_t live_index = 0;
      auto next = chosen.begin();
      for (const auto& [address, member] : it->second) {
        if (next == chosen.end()) break;
        if (member.expires_at <= request.now) continue;
        if (live_index++ == *next) {
          sampled.emplace_back(address);
          ++next;
        }
      }
    }
  }
  result.peers.reserve(sampled.size());
  for (const std::string& address : sampled) {
    const std::string key = AnnouncementKey(address, request.name);
    Shard& shard = ShardFor(key);
    std::shared_lock lock(shard.mu);
    auto it = shard.entries.find(AsAbsl(key));
    if (it == shard.entries.end() || it->second.expires_at <= request.now) continue;
    result.peers.push_back(
        ListedPeer{address, it->second.value, it->second.version, it->second.expires_at});
  }
  std::sort(result.peers.begin(), result.peers.end(),
            [](const ListedPeer& a, const ListedPeer& b) { return a.address < b.address; });
  done(result);
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
      ReleaseQuota(it->first, it->second);
      IndexRemoved(it->first);
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

size_t MemoryStore::PurgeSomeExpired(absl::Time now) {
  const size_t start = purge_cursor_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < shard_count_; ++i) {
    const size_t index = (start + i) % shard_count_;
    Shard& shard = shards_[index];
    size_t removed = 0;
    {
      std::unique_lock lock(shard.mu);
      removed = PurgeExpiredLocked(shard, now);
    }
    if (removed > 0) {
      purge_cursor_.store((index + 1) % shard_count_, std::memory_order_relaxed);
      return removed;
    }
  }
  return 0;
}

size_t MemoryStore::PurgeCreator(const Creator& creator, absl::Time now) {
  std::vector<std::string> keys;
  {
    std::lock_guard lock(quota_mu_);
    auto it = quota_.find(creator);
    if (it == quota_.end() || it->second.earliest_expiry > now) return 0;
    keys.assign(it->second.keys.begin(), it->second.keys.end());
    // Entries created or shortened while the walk runs lower the bound again (NoteCountedExpiry,
    // TryTakeQuota); the walk adds what it saw of the rest at the end.
    it->second.earliest_expiry = absl::InfiniteFuture();
  }
  size_t removed = 0;
  absl::Time earliest_kept = absl::InfiniteFuture();
  for (const std::string& key : keys) {
    Shard& shard = ShardFor(key);
    std::unique_lock lock(shard.mu);
    auto it = shard.entries.find(AsAbsl(key));
    // The key may have been removed, or recreated by someone else, since it was copied.
    if (it == shard.entries.end() || !it->second.counted || it->second.creator != creator) {
      continue;
    }
    if (it->second.expires_at <= now) {
      ReleaseQuota(it->first, it->second);
      IndexRemoved(it->first);
      shard.entries.erase(it);
      Release(1);
      ++removed;
    } else {
      earliest_kept = std::min(earliest_kept, it->second.expires_at);
    }
  }
  NoteCountedExpiry(creator, earliest_kept);
  return removed;
}

void MemoryStore::Get(std::string_view key, absl::Time now, GetCallback done) {
  GetResult result;
  if (!ValidKey(key, limits_)) {
    done(result);  // no such entry can exist
    return;
  }
  const size_t hash = KeyHash(key);
  Shard& shard = ShardFor(hash);
  std::shared_lock lock(shard.mu);
  auto it = shard.entries.find(AsAbsl(key), hash);
  if (it != shard.entries.end() && it->second.expires_at > now) {
    const Entry& entry = it->second;
    result.status = Status::kOk;
    result.entry = EntryView{entry.value, entry.version, entry.expires_at};
  }
  // Under the reader lock: the view points into the map.
  done(result);
}

MemoryStore::Missing MemoryStore::TryPut(const PutRequest& request, const secret::Digest* digest,
                                         WriteResult* result) {
  *result = WriteResult{};
  const size_t hash = KeyHash(request.key);
  Shard& shard = ShardFor(hash);
  std::unique_lock lock(shard.mu);
  auto it = shard.entries.find(AsAbsl(request.key), hash);
  FoundRecord found;
  if (it != shard.entries.end()) {
    const Entry& entry = it->second;
    found = FoundRecord{entry.version, entry.expires_at, entry.owned,
                        entry.owner,   entry.creator,    entry.value};
  }
  const WritePlan plan = PlanPut(it != shard.entries.end() ? &found : nullptr, request, digest);
  if (plan.remove_found) {
    ReleaseQuota(it->first, it->second);
    IndexRemoved(it->first);
    shard.entries.erase(it);
    Release(1);
    it = shard.entries.end();
  }
  result->status = plan.status;
  if (plan.status != Status::kOk) return Missing::kNothing;

  const uint32_t limit = request.max_entries_per_creator;
  const RecordToStore& record = plan.record;
  if (plan.creates) {
    if (limit != 0 && !TryTakeQuota(record.creator, request.key, limit, record.expires_at)) {
      result->status = Status::kQuotaReached;
      return Missing::kQuotaUnit;
    }
    if (!TryReserve()) {
      if (limit != 0) {
        Entry taken;  // gives back the unit taken above
        taken.creator = record.creator;
        taken.counted = true;
        ReleaseQuota(request.key, taken);
      }
      result->status = Status::kCapacityReached;
      return Missing::kCapacityUnit;
    }
    it = shard.entries.emplace(std::string(request.key), Entry{}).first;
    it->second.counted = limit != 0;
  } else if (it->second.counted && record.expires_at < it->second.expires_at) {
    NoteCountedExpiry(record.creator, record.expires_at);
  }
  Entry& entry = it->second;
  entry.owned = record.owned;
  entry.owner = record.owner;
  entry.creator = record.creator;
  entry.value.assign(request.value);
  entry.version = NextVersion();
  entry.expires_at = record.expires_at;
  shard.earliest_expiry = std::min(shard.earliest_expiry, record.expires_at);
  IndexWritten(it->first, entry.version, entry.expires_at);
  result->version = entry.version;
  result->expires_at = entry.expires_at;
  result->created = plan.creates;
  return Missing::kNothing;
}

void MemoryStore::Put(const PutRequest& request, WriteCallback done) {
  if (!ValidKey(request.key, limits_) || !ValidValue(request.value, limits_)) {
    done(Refused(Status::kUnavailable));  // the caller skipped its size checks
    return;
  }
  // Hashing costs a microsecond or so: do it before taking the lock.
  secret::Digest digest{};
  if (!request.secret.empty()) digest = hasher_.Hash(request.secret);
  const secret::Digest* digest_ptr = request.secret.empty() ? nullptr : &digest;

  WriteResult result;
  Missing missing = TryPut(request, digest_ptr, &result);
  // A unit held by expired entries is not a unit in use: free some and plan again, once. (Under a
  // race another writer may take what was freed first; this write is then refused as any other.)
  if (missing == Missing::kQuotaUnit && PurgeCreator(request.creator, request.now) > 0) {
    missing = TryPut(request, digest_ptr, &result);
  }
  if (missing == Missing::kCapacityUnit && PurgeSomeExpired(request.now) > 0) {
    TryPut(request, digest_ptr, &result);
  }
  if (result.status == Status::kOk) Notify(request.key, result.version);
  done(result);
}

void MemoryStore::Delete(const DeleteRequest& request, WriteCallback done) {
  secret::Digest digest{};
  if (!request.secret.empty()) digest = hasher_.Hash(request.secret);
  const secret::Digest* digest_ptr = request.secret.empty() ? nullptr : &digest;
  if (!ValidKey(request.key, limits_)) {
    done(Refused(PlanDelete(nullptr, request, digest_ptr).status));  // no such entry can exist
    return;
  }

  WriteResult result;
  Shard& shard = ShardFor(request.key);
  {
    std::unique_lock lock(shard.mu);
    auto it = shard.entries.find(AsAbsl(request.key));
    FoundRecord found;
    if (it != shard.entries.end()) {
      const Entry& entry = it->second;
      found = FoundRecord{entry.version, entry.expires_at, entry.owned, entry.owner, entry.creator};
    }
    const WritePlan plan =
        PlanDelete(it != shard.entries.end() ? &found : nullptr, request, digest_ptr);
    if (plan.remove_found) {
      ReleaseQuota(it->first, it->second);
      IndexRemoved(it->first);
      shard.entries.erase(it);
      Release(1);
    }
    result.status = plan.status;
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

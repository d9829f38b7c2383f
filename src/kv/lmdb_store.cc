// The durable Store engine: reads in the caller's thread, writes through the group-commit writer.
// See lmdb_store.h and docs/storage.md.
#include "kv/lmdb_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kv/announcement.h"
#include "kv/entry_codec.h"
#include "kv/write_plan.h"

namespace rendezvous::kv {
namespace {

constexpr size_t kPageBytes = 4096;
constexpr size_t kMapBaseBytes = size_t{64} << 20;
// Largest record that still lives inside a leaf page (LMDB's node limit for 4 KiB pages, less
// the node header); a longer one moves its value to overflow pages.
constexpr size_t kMaxInlineNodeBytes = 2040 - 8;
// Keeps a misconfigured max_entries from overflowing the arithmetic below.
constexpr size_t kMaxMapBytes = size_t{1} << 40;

// The map bound for the configured limits: every record alone on a leaf page (LMDB merges a page
// only when it is under 25 % full, so a leaf may keep a single record) plus the overflow pages
// of a value too long for a leaf, doubled for branch pages, the pages of recent transactions
// (copy-on-write) and the free list, plus a fixed base. Address space only: without MDB_WRITEMAP
// the file grows with the data, not with the map.
size_t DeriveMapLimit(const LmdbStore::Options& options) {
  const size_t record_bytes = options.max_key_bytes + kEntryHeaderBytes + options.max_value_bytes;
  size_t pages_per_entry = 1;
  if (record_bytes > kMaxInlineNodeBytes) {
    pages_per_entry += (16 + kEntryHeaderBytes + options.max_value_bytes + kPageBytes - 1) /
                       kPageBytes;
  }
  const size_t per_entry = 2 * pages_per_entry * kPageBytes;
  if (options.max_entries > (kMaxMapBytes - kMapBaseBytes) / per_entry) return kMaxMapBytes;
  return options.max_entries * per_entry + kMapBaseBytes;
}

WriteResult Refused(Status status) {
  WriteResult result;
  result.status = status;
  return result;
}

}  // namespace

std::unique_ptr<LmdbStore> LmdbStore::Open(const Options& options, std::string* error) {
  if (options.sync_interval <= absl::ZeroDuration()) {
    *error = absl::StrCat(options.path, ": the sync interval must be positive");
    return nullptr;
  }
  if (options.max_key_bytes == 0) {
    *error = absl::StrCat(options.path, ": the key size limit must be positive");
    return nullptr;
  }
  LmdbEnv::Options env_options;
  env_options.path = options.path;
  env_options.sync_every_write = options.sync_every_write;
  env_options.map_limit_bytes =
      options.max_map_bytes != 0 ? options.max_map_bytes : DeriveMapLimit(options);
  env_options.max_key_bytes = options.max_key_bytes;
  std::unique_ptr<LmdbEnv> env = LmdbEnv::Open(env_options, error);
  if (env == nullptr) return nullptr;
  return std::unique_ptr<LmdbStore>(new LmdbStore(options, std::move(env)));
}

LmdbStore::LmdbStore(const Options& options, std::unique_ptr<LmdbEnv> env)
    : options_(options),
      env_(std::move(env)),
      limits_{options.max_key_bytes, options.max_value_bytes},
      hasher_(env_->hash_key()),
      writer_(std::make_unique<LmdbWriter>(env_.get(), options.max_entries,
                                           options.max_queued_writes)),
      sync_thread_([this] { SyncLoop(); }) {}

LmdbStore::~LmdbStore() {
  {
    std::lock_guard lock(sync_mu_);
    stop_sync_ = true;
  }
  sync_cv_.notify_all();
  sync_thread_.join();
  writer_.reset();  // commits everything still queued
  if (const int rc = env_->Sync(); rc != 0) {
    common::LogError(absl::StrCat(env_->path(), ": fsync at close failed: ", mdb_strerror(rc)));
  }
}

void LmdbStore::SyncLoop() {
  // Waits are capped at a day: an "infinite" interval must not overflow the steady clock.
  const auto interval = absl::ToChronoNanoseconds(std::min(options_.sync_interval, absl::Hours(24)));
  uint64_t synced_commits = 0;
  for (;;) {
    {
      std::unique_lock lock(sync_mu_);
      if (sync_cv_.wait_for(lock, interval, [this] { return stop_sync_; })) return;
    }
    const uint64_t commits = writer_->commit_count();
    if (commits == synced_commits) continue;  // nothing new since the last fsync
    if (const int rc = env_->Sync(); rc != 0) {
      common::LogError(absl::StrCat(env_->path(), ": periodic fsync failed: ", mdb_strerror(rc)));
      continue;
    }
    synced_commits = commits;
  }
}

void LmdbStore::Get(std::string_view key, absl::Time now, GetCallback done) {
  GetResult result;  // kNotFound
  if (!ValidKey(key, limits_)) {
    done(result);  // no such record can exist
    return;
  }
  const int rc = env_->Read([&](MDB_txn* txn) {
    MDB_val k = ToVal(key);
    MDB_val v;
    const int get_rc = mdb_get(txn, env_->entries_dbi(), &k, &v);
    if (get_rc == 0) {
      EntryHeader header;
      std::string_view value;
      if (!DecodeEntry(ToView(v), &header, &value)) {
        result.status = Status::kUnavailable;  // a damaged record is never served
      } else if (header.expires_at > now) {
        result.status = Status::kOk;
        result.entry = EntryView{value, header.version, header.expires_at};
      }
    } else if (get_rc != MDB_NOTFOUND) {
      result.status = Status::kUnavailable;
    }
    done(result);  // inside the read transaction: the value view points into the map
  });
  if (rc != 0) {
    result.status = Status::kUnavailable;
    done(result);
  }
}

void LmdbStore::List(const ListRequest& request, ListCallback done) {
  ListResult result;
  result.status = Status::kOk;
  const int rc = env_->Read([&](MDB_txn* txn) {
    struct Live {
      std::string_view address;  // views into the map, valid in this transaction
      std::string_view value;
      EntryHeader header;
    };
    std::vector<Live> live;
    MDB_cursor* cursor = nullptr;
    if (mdb_cursor_open(txn, env_->names_dbi(), &cursor) != 0) {
      result.status = Status::kUnavailable;
      return;
    }
    MDB_val name = ToVal(request.name);
    MDB_val address;
    std::string key;
    int get_rc = request.name.empty() ? MDB_NOTFOUND
                                      : mdb_cursor_get(cursor, &name, &address, MDB_SET_KEY);
    for (; get_rc == 0; get_rc = mdb_cursor_get(cursor, &name, &address, MDB_NEXT_DUP)) {
      const std::string_view address_text(static_cast<const char*>(address.mv_data),
                                          address.mv_size);
      key = AnnouncementKey(address_text, request.name);
      MDB_val k = ToVal(key);
      MDB_val v;
      if (mdb_get(txn, env_->entries_dbi(), &k, &v) != 0) continue;
      Live member{address_text, {}, {}};
      if (!DecodeEntry(ToView(v), &member.header, &member.value) ||
          member.header.expires_at <= request.now) {
        continue;
      }
      result.fingerprint = AddToFingerprint(result.fingerprint, member.header.version);
      live.push_back(member);
    }
    mdb_cursor_close(cursor);
    if (get_rc != 0 && get_rc != MDB_NOTFOUND) {
      result.status = Status::kUnavailable;
      return;
    }
    result.total = live.size();
    // The index is sorted by address bytes; the sample keeps that order once sorted.
    std::vector<uint32_t> chosen = SampleIndices(live.size(), request.limit, request.seed);
    std::sort(chosen.begin(), chosen.end());
    result.peers.reserve(chosen.size());
    for (const uint32_t i : chosen) {
      const Live& member = live[i];
      result.peers.push_back(ListedPeer{std::string(member.address), std::string(member.value),
                                        member.header.version, member.header.expires_at});
    }
  });
  if (rc != 0) result = ListResult{};  // kUnavailable
  // Address order is text order, which the index's byte order already is.
  done(result);
}

void LmdbStore::Put(const PutRequest& request, WriteCallback done) {
  if (!ValidKey(request.key, limits_) || !ValidValue(request.value, limits_)) {
    done(Refused(Status::kUnavailable));  // the caller skipped its size checks
    return;
  }
  LmdbWriter::Op op;
  op.kind = LmdbWriter::Op::Kind::kPut;
  op.key.assign(request.key);
  op.value.assign(request.value);
  op.has_secret = !request.secret.empty();
  if (op.has_secret) op.digest = hasher_.Hash(request.secret);  // here, not on the writer thread
  op.now = request.now;
  op.expires_at = request.expires_at;
  op.precondition = request.precondition;
  op.creator = request.creator;
  op.max_entries_per_creator = request.max_entries_per_creator;
  op.done = std::move(done);
  writer_->Submit(std::move(op));
}

void LmdbStore::Delete(const DeleteRequest& request, WriteCallback done) {
  if (!ValidKey(request.key, limits_)) {
    // No such record can exist; the owner check cannot fail on nothing, so no digest is needed.
    done(Refused(PlanDelete(nullptr, request, nullptr).status));
    return;
  }
  LmdbWriter::Op op;
  op.kind = LmdbWriter::Op::Kind::kDelete;
  op.key.assign(request.key);
  op.has_secret = !request.secret.empty();
  if (op.has_secret) op.digest = hasher_.Hash(request.secret);
  op.now = request.now;
  op.precondition = request.precondition;
  op.done = std::move(done);
  writer_->Submit(std::move(op));
}

size_t LmdbStore::SweepExpired(absl::Time now) { return writer_->SweepExpired(now); }

Status LmdbStore::Flush() {
  if (const int rc = env_->Sync(); rc != 0) {
    common::LogError(absl::StrCat(env_->path(), ": fsync failed: ", mdb_strerror(rc)));
    return Status::kUnavailable;
  }
  return Status::kOk;
}

size_t LmdbStore::Size() const { return writer_->Size(); }

uint64_t LmdbStore::commit_count() const { return writer_->commit_count(); }

uint64_t LmdbStore::committed_op_count() const { return writer_->committed_op_count(); }

void LmdbStore::SetChangeListener(ChangeListener listener) {
  writer_->SetChangeListener(std::move(listener));
}

}  // namespace rendezvous::kv

// The group-commit writer thread. See lmdb_writer.h for the design.
#include "kv/lmdb_writer.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kv/announcement.h"
#include "kv/write_plan.h"

namespace rendezvous::kv {
namespace {

MDB_val ToVal(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view ToView(const MDB_val& val) {
  return std::string_view(static_cast<const char*>(val.mv_data), val.mv_size);
}

FoundRecord ToFound(const EntryHeader& header) {
  return FoundRecord{header.version, header.expires_at, header.owned, header.owner, header.creator};
}

// The part of a PutRequest / DeleteRequest the planner reads, rebuilt from a queued op (whose
// strings the op owns).
PutRequest ToPutRequest(const LmdbWriter::Op& op) {
  PutRequest request;
  request.key = op.key;
  request.value = op.value;
  request.now = op.now;
  request.expires_at = op.expires_at;
  request.precondition = op.precondition;
  request.creator = op.creator;
  request.max_entries_per_creator = op.max_entries_per_creator;
  return request;
}

DeleteRequest ToDeleteRequest(const LmdbWriter::Op& op) {
  DeleteRequest request;
  request.key = op.key;
  request.now = op.now;
  request.precondition = op.precondition;
  return request;
}

}  // namespace

struct LmdbWriter::SweepJob {
  bool first = true;      // a new sweep: start at the first key
  std::string start_key;  // otherwise: resume at the first key >= this
  absl::Time now;
  size_t removed = 0;
  bool more = false;  // set when the walk is not finished; next_key is where to go on
  std::string next_key;
  bool finished = false;  // guarded by LmdbWriter::mu_
};

LmdbWriter::LmdbWriter(LmdbEnv* env, size_t max_entries, size_t max_queued_ops)
    : env_(*env),
      max_entries_(max_entries),
      max_queued_ops_(std::max<size_t>(max_queued_ops, 1)),
      size_(env->entries_at_open()) {
  state_.next_version = env->version_high_water_at_open() + 1;
  thread_ = std::thread([this] { Run(); });
}

LmdbWriter::~LmdbWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void LmdbWriter::Submit(Op op) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() < max_queued_ops_) {
      queue_.push_back(std::move(op));
      queued = true;
    }
  }
  if (!queued) {
    // The queue is full: the disk cannot keep up. Refuse now rather than grow without bound.
    op.result = WriteResult{};
    op.result.status = Status::kUnavailable;
    if (op.done) op.done(op.result);
    return;
  }
  work_cv_.notify_one();
}

void LmdbWriter::SetChangeListener(ChangeListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

bool LmdbWriter::HasWork() const { return stopping_ || !queue_.empty() || sweep_job_ != nullptr; }

void LmdbWriter::Run() {
  std::vector<Op> batch;
  batch.reserve(kMaxBatch);
  for (;;) {
    SweepJob* sweep = nullptr;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return HasWork(); });
      if (queue_.empty() && sweep_job_ == nullptr) return;  // stopping, and nothing left
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      sweep = std::exchange(sweep_job_, nullptr);
    }
    if (!batch.empty()) {
      CommitBatch(batch);
      Complete(batch);
      batch.clear();
    }
    if (sweep != nullptr) {
      RunSweepChunk(*sweep);
      {
        std::lock_guard lock(mu_);
        sweep->finished = true;  // `sweep` may be gone once the lock is released
      }
      sweep_cv_.notify_all();
    }
  }
}

void LmdbWriter::CommitBatch(std::span<Op> ops) {
  for (;;) {
    const TxnState saved = state_;
    const int rc = TryCommit(ops);
    if (rc == 0) return;
    state_ = saved;
    if (rc == MDB_MAP_FULL && env_.GrowMap()) continue;
    if (ops.size() > 1) {
      // One operation may have spoiled the transaction for all: give each its own.
      for (size_t i = 0; i < ops.size(); ++i) CommitBatch(ops.subspan(i, 1));
      return;
    }
    const bool full = env_.IsStorageFull(rc);
    if (!full) LogFailure("write", rc);
    ops[0].result = WriteResult{};
    ops[0].result.status = full ? Status::kStorageFull : Status::kUnavailable;
    return;
  }
}

int LmdbWriter::TryCommit(std::span<Op> ops) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.env(), nullptr, 0, &txn);
  if (rc != 0) return rc;
  const uint64_t first_version = state_.next_version;
  for (Op& op : ops) {
    rc = op.kind == Op::Kind::kPut ? ApplyPut(txn, op) : ApplyDelete(txn, op);
    if (rc != 0) break;
  }
  if (rc == 0 && state_.next_version != first_version) {
    rc = env_.PutVersionHighWater(txn, state_.next_version - 1);
  }
  MDB_stat stat{};
  if (rc == 0) rc = mdb_stat(txn, env_.entries_dbi(), &stat);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  rc = mdb_txn_commit(txn);  // frees txn, also on failure
  if (rc != 0) return rc;
  size_.store(stat.ms_entries, std::memory_order_relaxed);
  committed_ops_.fetch_add(ops.size(), std::memory_order_relaxed);
  commits_.fetch_add(1, std::memory_order_release);
  return 0;
}

int LmdbWriter::Lookup(MDB_txn* txn, std::string_view key, bool* found, bool* damaged,
                       EntryHeader* header, std::string_view* value_out) {
  MDB_val k = ToVal(key);
  MDB_val v;
  const int rc = mdb_get(txn, env_.entries_dbi(), &k, &v);
  *found = rc == 0;
  *damaged = false;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  std::string_view value;
  *damaged = !DecodeEntry(ToView(v), header, &value);
  if (value_out != nullptr) *value_out = value;
  return 0;
}

int LmdbWriter::ApplyPut(MDB_txn* txn, Op& op) {
  op.result = WriteResult{};
  bool found = false;
  bool damaged = false;
  EntryHeader old;
  std::string_view old_value;  // read by the planner only, before this transaction writes
  if (const int rc = Lookup(txn, op.key, &found, &damaged, &old, &old_value); rc != 0) return rc;
  if (damaged) return 0;  // kUnavailable: never overwrite what we cannot read
  FoundRecord found_record = found ? ToFound(old) : FoundRecord{};
  found_record.value = old_value;
  const PutRequest request = ToPutRequest(op);
  const WritePlan plan = PlanPut(found ? &found_record : nullptr, request,
                                 op.has_secret ? &op.digest : nullptr);
  if (plan.remove_found) {
    MDB_val k = ToVal(op.key);
    if (const int rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr); rc != 0) return rc;
    if (const int rc = AdjustQuota(txn, old.creator, op.key, -1); rc != 0) return rc;
    found = false;
  }
  Status status = plan.status;
  if (status == Status::kOk && plan.creates) {
    if (const int rc = Admit(txn, op, &found, &status); rc != 0) return rc;
  }
  if (status != Status::kOk) {
    op.result.status = status;
    return 0;
  }

  EntryHeader next;
  next.version = state_.next_version++;
  next.expires_at = TimeFromUnixNanos(TimeToUnixNanos(plan.record.expires_at));  // as a reload sees
  next.owned = plan.record.owned;
  next.owner = plan.record.owner;
  next.creator = plan.record.creator;
  if (plan.creates) {
    if (const int rc = AdjustQuota(txn, next.creator, op.key, +1); rc != 0) return rc;
  }
  // MDB_RESERVE: encode straight into the page instead of assembling a buffer first.
  MDB_val k = ToVal(op.key);
  MDB_val v{kEntryHeaderBytes + op.value.size(), nullptr};
  if (const int rc = mdb_put(txn, env_.entries_dbi(), &k, &v, MDB_RESERVE); rc != 0) return rc;
  char* out = static_cast<char*>(v.mv_data);
  EncodeEntryHeader(next, out);
  if (!op.value.empty()) std::memcpy(out + kEntryHeaderBytes, op.value.data(), op.value.size());
  NoteExpiry(next.expires_at);

  op.result.status = Status::kOk;
  op.result.version = next.version;
  op.result.expires_at = next.expires_at;
  op.result.created = plan.creates;
  return 0;
}

int LmdbWriter::Admit(MDB_txn* txn, const Op& op, bool* found, Status* status) {
  uint32_t creator_held = 0;
  if (op.max_entries_per_creator != 0) {
    if (const int rc = QuotaCount(txn, op.creator, &creator_held); rc != 0) return rc;
    if (!QuotaAllows(creator_held, op.max_entries_per_creator)) {
      // At its quota, the creator's expired records are not entries in use: remove them.
      if (const int rc = PurgeCreator(txn, op.creator, op.now); rc != 0) return rc;
      if (const int rc = QuotaCount(txn, op.creator, &creator_held); rc != 0) return rc;
    }
  }
  size_t store_held = 0;
  if (QuotaAllows(creator_held, op.max_entries_per_creator)) {
    if (const int rc = MakeRoom(txn, op.key, op.now, found, &store_held); rc != 0) return rc;
  }
  // Both counts are what is left after the purges; the planner decides on them.
  *status = AdmitCreation(creator_held, op.max_entries_per_creator, store_held, max_entries_);
  return 0;
}

int LmdbWriter::PurgeCreator(MDB_txn* txn, const std::array<uint8_t, 16>& creator,
                             absl::Time now) {
  // Collect first: deleting records while a cursor walks the index it changes is not worth the
  // subtlety, and the list is bounded by the creator's quota.
  std::vector<std::string> expired;
  MDB_cursor* cursor = nullptr;
  if (const int rc = mdb_cursor_open(txn, env_.creators_dbi(), &cursor); rc != 0) return rc;
  MDB_val c{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val key;
  int rc = mdb_cursor_get(cursor, &c, &key, MDB_SET_KEY);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &c, &key, MDB_NEXT_DUP)) {
    MDB_val k = key;
    MDB_val v;
    const int get_rc = mdb_get(txn, env_.entries_dbi(), &k, &v);
    if (get_rc == MDB_NOTFOUND) continue;
    if (get_rc != 0) {
      rc = get_rc;
      break;
    }
    EntryHeader header;
    std::string_view value;
    if (DecodeEntry(ToView(v), &header, &value) && header.expires_at <= now) {
      expired.emplace_back(ToView(key));
    }
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  for (const std::string& record_key : expired) {
    MDB_val k = ToVal(record_key);
    if ((rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr)) != 0) return rc;
    if ((rc = AdjustQuota(txn, creator, record_key, -1)) != 0) return rc;
  }
  return 0;
}

int LmdbWriter::ApplyDelete(MDB_txn* txn, Op& op) {
  op.result = WriteResult{};
  bool found = false;
  bool damaged = false;
  EntryHeader old;
  if (const int rc = Lookup(txn, op.key, &found, &damaged, &old); rc != 0) return rc;
  if (damaged) return 0;  // kUnavailable
  const FoundRecord found_record = found ? ToFound(old) : FoundRecord{};
  const WritePlan plan = PlanDelete(found ? &found_record : nullptr, ToDeleteRequest(op),
                                    op.has_secret ? &op.digest : nullptr);
  if (plan.remove_found) {
    MDB_val k = ToVal(op.key);
    if (const int rc = mdb_del(txn, env_.entries_dbi(), &k, nullptr); rc != 0) return rc;
    if (const int rc = AdjustQuota(txn, old.creator, op.key, -1); rc != 0) return rc;
  }
  op.result.status = plan.status;
  return 0;
}

int LmdbWriter::MakeRoom(MDB_txn* txn, std::string_view key, absl::Time now, bool* found,
                         size_t* held) {
  MDB_stat stat{};
  if (const int rc = mdb_stat(txn, env_.entries_dbi(), &stat); rc != 0) return rc;
  size_t records = stat.ms_entries;
  auto fits = [&] { return CapacityAllows(records - (*found ? 1 : 0), max_entries_); };
  *held = records - (*found ? 1 : 0);
  // Nothing can have expired before the earliest expiry: refuse without a scan.
  if (fits() || now < state_.earliest_expiry) return 0;

  MDB_cursor* cursor = nullptr;
  if (const int rc = mdb_cursor_open(txn, env_.entries_dbi(), &cursor); rc != 0) return rc;
  const std::string start = state_.purge_resume_key;
  bool wrapped = start.empty();  // a walk from the first key covers everything in one pass
  bool complete = false;
  absl::Time earliest_kept = absl::InfiniteFuture();
  MDB_val k = ToVal(start);
  MDB_val v;
  int rc = mdb_cursor_get(cursor, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (;;) {
    if (rc == MDB_NOTFOUND) {
      if (wrapped) {
        complete = true;
        break;
      }
      wrapped = true;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
      continue;
    }
    if (rc != 0) break;
    const std::string_view record_key = ToView(k);
    if (wrapped && !start.empty() && record_key >= start) {  // byte order, as LMDB's
      complete = true;
      break;
    }
    EntryHeader header;
    std::string_view value;
    if (DecodeEntry(ToView(v), &header, &value)) {  // damaged records are never removed
      if (header.expires_at <= now) {
        if (record_key == key) *found = false;
        state_.purge_resume_key.assign(record_key);  // SET_RANGE finds its successor
        if ((rc = DeleteAtCursor(txn, cursor, ToView(k), ToView(v))) != 0) break;
        --records;
        if (fits()) break;
      } else {
        earliest_kept = std::min(earliest_kept, header.expires_at);
      }
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);  // after a delete: the next record
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  if (complete) {
    state_.earliest_expiry = earliest_kept;  // every record was seen: the bound is exact
    state_.purge_resume_key.clear();
  }
  *held = records - (*found ? 1 : 0);
  return 0;
}

int LmdbWriter::QuotaCount(MDB_txn* txn, const std::array<uint8_t, 16>& creator,
                           uint32_t* count) {
  MDB_val k{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val v;
  const int rc = mdb_get(txn, env_.quota_dbi(), &k, &v);
  *count = 0;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  if (v.mv_size == 4) *count = DecodeUint32(static_cast<const char*>(v.mv_data));
  return 0;
}

int LmdbWriter::AdjustQuota(MDB_txn* txn, const std::array<uint8_t, 16>& creator,
                            std::string_view key, int delta) {
  uint32_t count = 0;
  if (const int rc = QuotaCount(txn, creator, &count); rc != 0) return rc;
  MDB_val c{creator.size(), const_cast<uint8_t*>(creator.data())};
  MDB_val k = ToVal(key);
  // The listing index changes with the same record events as the creators index.
  if (const std::optional<Announcement> announcement = ParseAnnouncement(key)) {
    MDB_val name = ToVal(announcement->name);
    MDB_val address = ToVal(announcement->address);
    const int rc = delta < 0 ? mdb_del(txn, env_.names_dbi(), &name, &address)
                             : mdb_put(txn, env_.names_dbi(), &name, &address, 0);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  if (delta < 0) {
    const int rc = mdb_del(txn, env_.creators_dbi(), &c, &k);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  } else if (const int rc = mdb_put(txn, env_.creators_dbi(), &c, &k, 0); rc != 0) {
    return rc;
  }
  if (delta < 0 && count <= 1) {
    const int rc = mdb_del(txn, env_.quota_dbi(), &c, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }
  char bytes[4];
  EncodeUint32(delta < 0 ? count - 1 : count + 1, bytes);
  MDB_val v{sizeof(bytes), bytes};
  return mdb_put(txn, env_.quota_dbi(), &c, &v, 0);
}

int LmdbWriter::DeleteAtCursor(MDB_txn* txn, MDB_cursor* cursor, std::string_view key,
                               std::string_view record) {
  EntryHeader header;
  std::string_view value;
  // Callers only delete records they decoded; the header and key are copied before the page
  // changes.
  const bool decoded = DecodeEntry(record, &header, &value);
  const std::string key_copy(key);
  if (const int rc = mdb_cursor_del(cursor, 0); rc != 0) return rc;
  return decoded ? AdjustQuota(txn, header.creator, key_copy, -1) : 0;
}

void LmdbWriter::NoteExpiry(absl::Time expires_at) {
  state_.earliest_expiry = std::min(state_.earliest_expiry, expires_at);
  if (state_.sweeping) state_.sweep_earliest = std::min(state_.sweep_earliest, expires_at);
}

size_t LmdbWriter::SweepExpired(absl::Time now) {
  std::lock_guard sweep_lock(sweep_mu_);
  size_t removed = 0;
  std::string start_key;
  bool first = true;
  for (;;) {
    SweepJob job;
    job.first = first;
    job.start_key = std::move(start_key);
    job.now = now;
    {
      std::lock_guard lock(mu_);
      sweep_job_ = &job;
    }
    work_cv_.notify_one();
    {
      std::unique_lock lock(mu_);
      sweep_cv_.wait(lock, [&job] { return job.finished; });
    }
    removed += job.removed;
    if (!job.more) return removed;
    start_key = std::move(job.next_key);
    first = false;
  }
}

void LmdbWriter::RunSweepChunk(SweepJob& job) {
  for (;;) {
    const TxnState saved = state_;
    const int rc = TrySweepChunk(job);
    if (rc == 0) return;
    state_ = saved;
    if (rc == MDB_MAP_FULL && env_.GrowMap()) continue;
    if (!env_.IsStorageFull(rc)) LogFailure("expiry sweep", rc);
    state_.sweeping = false;  // the sweep ends here; its partial bound is dropped
    job.removed = 0;
    job.more = false;
    return;
  }
}

int LmdbWriter::TrySweepChunk(SweepJob& job) {
  job.removed = 0;
  job.more = false;
  if (job.first) {
    state_.sweeping = true;
    state_.sweep_earliest = absl::InfiniteFuture();
  }
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.env(), nullptr, 0, &txn);
  if (rc != 0) return rc;
  MDB_cursor* cursor = nullptr;
  if ((rc = mdb_cursor_open(txn, env_.entries_dbi(), &cursor)) != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  MDB_val k = ToVal(job.start_key);
  MDB_val v;
  rc = mdb_cursor_get(cursor, &k, &v, job.first ? MDB_FIRST : MDB_SET_RANGE);
  absl::Time earliest_kept = absl::InfiniteFuture();
  for (size_t examined = 0; rc == 0 && examined < kSweepChunkRecords; ++examined) {
    EntryHeader header;
    std::string_view value;
    if (DecodeEntry(ToView(v), &header, &value)) {
      if (header.expires_at <= job.now) {
        if ((rc = DeleteAtCursor(txn, cursor, ToView(k), ToView(v))) != 0) break;
        ++job.removed;
      } else {
        earliest_kept = std::min(earliest_kept, header.expires_at);
      }
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  if (rc == 0) {
    job.more = true;  // the cursor stands on the first record of the next chunk
    job.next_key.assign(ToView(k));
  } else if (rc == MDB_NOTFOUND) {
    rc = 0;
  }
  mdb_cursor_close(cursor);
  MDB_stat stat{};
  if (rc == 0) rc = mdb_stat(txn, env_.entries_dbi(), &stat);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return rc;
  size_.store(stat.ms_entries, std::memory_order_relaxed);
  commits_.fetch_add(1, std::memory_order_release);
  state_.sweep_earliest = std::min(state_.sweep_earliest, earliest_kept);
  if (!job.more) {
    // Every record was either seen by a chunk or written since the sweep began.
    state_.earliest_expiry = state_.sweep_earliest;
    state_.sweeping = false;
  }
  return 0;
}

void LmdbWriter::Complete(std::span<Op> ops) {
  {
    std::lock_guard lock(listener_mu_);
    if (listener_) {
      for (const Op& op : ops) {
        if (op.result.status == Status::kOk) listener_(op.key, op.result.version);  // 0: deleted
      }
    }
  }
  for (Op& op : ops) {
    if (op.done) op.done(op.result);
  }
}

void LmdbWriter::LogFailure(const char* what, int rc) {
  if (!failure_log_.ShouldLog(absl::Now())) return;
  const int64_t suppressed = failure_log_.TakeSuppressedCount();
  common::LogError(absl::StrCat(env_.path(), ": ", what, " failed: ", mdb_strerror(rc),
                                suppressed > 0 ? absl::StrCat(" (", suppressed, " more)") : ""));
}

}  // namespace rendezvous::kv

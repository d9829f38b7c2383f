// The group-commit writer thread (lmdb_writer.h): the queue, the batches and their commits, the
// expiry sweep's chunks and the completions. What one operation does inside the transaction is in
// lmdb_writer_apply.cc.
#include "kv/lmdb_writer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rendezvous::kv {

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

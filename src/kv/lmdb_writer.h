// LmdbWriter: the single thread that changes the LMDB data file, with group commit.
//
// Put and Delete operations are queued by any thread, at most `max_queued_ops` at a time: a
// Submit to a full queue completes at once, on the caller's thread, with kUnavailable and nothing
// written (the disk cannot keep up; memory must not grow with the backlog). The writer thread
// takes whatever is queued (at most kMaxBatch operations, no artificial wait: under load the
// queue fills while a commit runs, so batches grow by themselves), evaluates the operations in
// order inside ONE write transaction and commits it. Each operation runs the shared planner
// (write_plan.h) on the record as it is in that transaction; the writer only supplies its steps
// (look up, remove, count, purge, write), so every rule is atomic with the write. Only after
// mdb_txn_commit returned (with sync_every_write: after its fsync too) does the thread run the
// change listener and then each operation's callback: an acknowledged write has reached the file
// and survives kill -9.
//
// Failures. MDB_MAP_FULL spoils the whole transaction: the writer grows the map and retries. At
// the map limit, and on any other failure, a batch of several operations is retried with one
// transaction per operation, so one oversize value fails alone (kStorageFull) and its neighbours
// succeed. A failed operation changes nothing. A damaged record (see entry_codec.h) answers
// kUnavailable to operations on its key and is otherwise left alone.
//
// Expiry and capacity. A record whose expires_at <= now is dead to every operation and never
// costs a live entry its place, though it keeps its bytes until removed. When a creation finds
// max_entries records, expired records are purged inside the same transaction, walking round the
// key space from where the previous purge stopped until the new record fits or every record was
// seen. A lower bound of all expiry times (kept by every write, made exact by each complete purge
// or sweep) lets the writer refuse at once, without a scan, when nothing can have expired.
// SweepExpired removes expired records in chunks of kSweepChunkRecords, one short transaction
// each, interleaved with the queued writes.
//
// Key quota. Each record carries its creator (entry_codec.h); the "quota" database holds each
// creator's count of records and "creators" their keys. Every change of the records changes both
// in the same transaction: a creation adds one, and every removal (Delete, a sweep chunk, a purge,
// a Put over an expired record, which removes that record first) takes one off the creator it
// names. A creation whose creator is at its quota first removes that creator's expired records
// (found through "creators", so the work is bounded by the quota) and counts again; the quota is
// checked before capacity.
//
// Thread-safety: Submit, SweepExpired, Size and commit_count may be called from any thread;
// SetChangeListener before the first Submit. The destructor processes everything queued first.
#pragma once

#include <lmdb.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "kv/entry_codec.h"
#include "kv/lmdb_env.h"
#include "kv/store.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

class LmdbWriter {
 public:
  static constexpr size_t kMaxBatch = 256;
  static constexpr size_t kSweepChunkRecords = 1000;
  static constexpr size_t kDefaultMaxQueuedOps = 4096;

  // One queued write, owning copies of the request's bytes (the caller's views die on return).
  struct Op {
    enum class Kind : uint8_t { kPut, kDelete };
    Kind kind = Kind::kPut;
    std::string key;
    std::string value;  // kPut only
    bool has_secret = false;
    secret::Digest digest{};  // Hasher::Hash(secret) when has_secret; the secret itself is not kept
    absl::Time now;
    absl::Time expires_at;  // kPut only
    Precondition precondition;
    std::array<uint8_t, 16> creator{};     // kPut only: see PutRequest
    uint32_t max_entries_per_creator = 0;  // kPut only; 0 = no quota
    WriteCallback done;
    WriteResult result;  // filled in by the writer thread
  };

  // Starts the thread. `env` must outlive the writer. Versions continue after the file's
  // high-water mark. `max_queued_ops` bounds the queue (at least 1 is used).
  LmdbWriter(LmdbEnv* env, size_t max_entries, size_t max_queued_ops = kDefaultMaxQueuedOps);
  // Processes every queued operation, then stops the thread.
  ~LmdbWriter();
  LmdbWriter(const LmdbWriter&) = delete;
  LmdbWriter& operator=(const LmdbWriter&) = delete;

  // Queues `op`; its callback runs later on the writer thread. When max_queued_ops operations
  // are queued already, the callback runs at once on this thread with kUnavailable instead.
  void Submit(Op op);

  // Removes records that expired at or before `now`, one chunk per transaction on the writer
  // thread, and blocks until the whole key space was walked. Returns the number removed. A chunk
  // that fails to commit ends the sweep early. Concurrent calls run one after the other.
  size_t SweepExpired(absl::Time now);

  // Records held after the last commit, expired ones included.
  size_t Size() const { return size_.load(std::memory_order_relaxed); }
  // Commits so far; lets the periodic syncer skip an fsync when nothing changed.
  uint64_t commit_count() const { return commits_.load(std::memory_order_acquire); }
  // Write operations (puts and deletes) committed so far, refused ones included: with
  // commit_count() the mean batch size (metrics).
  uint64_t committed_op_count() const { return committed_ops_.load(std::memory_order_relaxed); }

  void SetChangeListener(ChangeListener listener);

 private:
  struct SweepJob;
  // The writer thread's own state. Copied before each transaction and restored when it aborts,
  // so that a spoiled transaction leaves no trace (a version consumed, a bound raised).
  struct TxnState {
    uint64_t next_version = 1;
    // No record expires before this (a lower bound; InfinitePast = unknown).
    absl::Time earliest_expiry = absl::InfinitePast();
    // While a sweep is under way: a lower bound of the expiry of every record kept by the chunks
    // so far or written since the sweep began; becomes earliest_expiry when the sweep completes.
    bool sweeping = false;
    absl::Time sweep_earliest = absl::InfiniteFuture();
    // Where the next capacity purge resumes its walk (empty: at the first key).
    std::string purge_resume_key;
  };

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits `ops` (growing the map, splitting the batch) and sets every op.result.
  void CommitBatch(std::span<Op> ops);
  // One attempt: all of `ops` in one transaction. Returns 0 or the LMDB/errno code that aborted
  // it (op results are then meaningless).
  int TryCommit(std::span<Op> ops);
  // Evaluate one operation inside `txn`. Return 0 (op.result set, possibly to a refusal) or an
  // LMDB error that spoils the transaction.
  int ApplyPut(MDB_txn* txn, Op& op);
  int ApplyDelete(MDB_txn* txn, Op& op);
  // Reads the record of `key`: *found, *header; *damaged when it cannot be decoded.
  // `value`, when given, gets the stored value's bytes: a view into the map, valid until the
  // transaction writes.
  int Lookup(MDB_txn* txn, std::string_view key, bool* found, bool* damaged, EntryHeader* header,
             std::string_view* value = nullptr);
  // The quota and capacity checks of a creation (write_plan.h step 5), purging what expired
  // first. Sets *status to kOk, kQuotaReached or kCapacityReached; `*found` as for MakeRoom.
  int Admit(MDB_txn* txn, const Op& op, bool* found, Status* status);
  // Makes room for a new record of `key` (capacity rule); see the header comment. `*found` says
  // whether an (expired) record of `key` is held, and is cleared if the purge removes it. Sets
  // *held to the records held afterwards, not counting one of `key`.
  int MakeRoom(MDB_txn* txn, std::string_view key, absl::Time now, bool* found, size_t* held);
  // Removes `creator`'s records that expired at or before `now`.
  int PurgeCreator(MDB_txn* txn, const std::array<uint8_t, 16>& creator, absl::Time now);
  // Adds `delta` (+1 or -1) to `creator`'s count in the quota database (a count of 0 is deleted)
  // and adds or removes `key` in its "creators" index, and in the "names" index when `key` is an
  // announcement. Called on every creation and removal of a record.
  int AdjustQuota(MDB_txn* txn, const std::array<uint8_t, 16>& creator, std::string_view key,
                  int delta);
  int QuotaCount(MDB_txn* txn, const std::array<uint8_t, 16>& creator, uint32_t* count);
  // Deletes the record `key` under the cursor and takes it off the creator `record` names.
  int DeleteAtCursor(MDB_txn* txn, MDB_cursor* cursor, std::string_view key,
                     std::string_view record);
  void NoteExpiry(absl::Time expires_at);
  void RunSweepChunk(SweepJob& job);
  int TrySweepChunk(SweepJob& job);
  void Complete(std::span<Op> ops);
  void LogFailure(const char* what, int rc);

  LmdbEnv& env_;
  const size_t max_entries_;
  const size_t max_queued_ops_;
  TxnState state_;  // writer thread only
  std::atomic<size_t> size_;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_ops_{0};
  common::LogThrottle failure_log_{absl::Seconds(10)};

  // Standard mutexes (not absl::Mutex) on purpose: Debian's prebuilt Abseil is not built for
  // ThreadSanitizer, which then cannot see its hand-offs; pthread-based ones it can.
  std::mutex mu_;
  std::deque<Op> queue_ ABSL_GUARDED_BY(mu_);
  SweepJob* sweep_job_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable work_cv_;   // HasWork() may have become true
  std::condition_variable sweep_cv_;  // a sweep chunk finished

  std::mutex sweep_mu_;  // serialises SweepExpired callers
  std::mutex listener_mu_;
  ChangeListener listener_ ABSL_GUARDED_BY(listener_mu_);

  std::thread thread_;  // last: starts after everything above is initialised
};

}  // namespace rendezvous::kv

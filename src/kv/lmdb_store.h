// LmdbStore: the durable Store engine, on an LMDB data file (default `store.db`).
//
// What a caller can rely on (docs/storage.md has the reasons and the measurements):
// - Durability: a Put or Delete callback reporting kOk runs only after the transaction holding
//   the write was committed to the file, so it survives kill -9 of the process. Power loss: the
//   file is fsynced at least every `sync_interval`, at Flush() and at destruction; with
//   `sync_every_write` every commit is fsynced before its callbacks run.
// - Everything an entry carries survives a reopen: value bytes, owner (a keyed hash of the
//   secret; the key lives in the file, the secret never does), absolute expiry, version. Versions
//   keep increasing across restarts, deletes included. Keys are arbitrary bytes (1..511).
// - Get reads the file directly from the calling thread (no memory index, nothing to load at
//   start-up) and runs its callback inline, inside a read transaction, with views into the map.
// - Put and Delete complete later, on the writer thread (lmdb_writer.h: group commit, capacity
//   purge). Their callbacks and the change listener run there.
// - A full map grows up to a bound derived from max_entries and the size limits; at that bound,
//   and on a full disk, writes answer kStorageFull, reads keep working, and writes work again
//   once room is made (deletes, expiry, a larger limit, disk space).
// - Refusals on open: see Open.
//
// Thread-safety: all Store methods may be called concurrently from any thread; SetChangeListener
// before serving. Destroy the store only after every caller is done with it (no call may run or
// start during the destructor); the destructor completes every queued write first.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "kv/lmdb_env.h"
#include "kv/lmdb_writer.h"
#include "kv/store.h"
#include "kv/write_plan.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

class LmdbStore final : public Store {
 public:
  struct Options {
    std::string path = "store.db";  // -db; the lock file is path + ".lock"
    size_t max_entries = 100000;    // -maxNumKV: live entries at most
    size_t max_key_bytes = 100;     // longest key (at most 511, LMDB's limit)
    size_t max_value_bytes = 1000;  // longest value; with max_entries, bounds the map
    bool sync_every_write = false;  // -syncWrites: fsync each commit before acknowledging it
    absl::Duration sync_interval = absl::Minutes(30);  // -saveDuration: fsync at least this often
    // Bound of the map in bytes; 0 derives it from the limits above (see docs/storage.md).
    // Tests set a small bound to reach kStorageFull.
    size_t max_map_bytes = 0;
    // Writes waiting for the writer thread at most; a write beyond answers kUnavailable at once.
    size_t max_queued_writes = LmdbWriter::kDefaultMaxQueuedOps;
  };

  // Opens (or creates, mode 0600) the data file and starts the writer and sync threads. On
  // failure returns nullptr and sets `*error` to one line naming the file and the reason: not an
  // LMDB file or damaged header, truncated, another program's database, a newer store format,
  // held by another process, no permission, a missing directory, invalid options. A failed open
  // writes nothing to an existing file; only a missing or empty (0-byte) file is initialised.
  static std::unique_ptr<LmdbStore> Open(const Options& options, std::string* error);

  // Completes every queued write, fsyncs and closes the file (releasing the lock).
  ~LmdbStore() override;
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  // Store (input limits, rules and their order: store.h). Get answers kUnavailable when no read
  // transaction can be started or the record is damaged. Put and Delete answer kUnavailable at
  // once when max_queued_writes writes are waiting already.
  void Get(std::string_view key, absl::Time now, GetCallback done) override;
  void Put(const PutRequest& request, WriteCallback done) override;
  void Delete(const DeleteRequest& request, WriteCallback done) override;
  // Blocks until the whole file was walked (chunks of 1000 records, one transaction each,
  // between queued writes). Call from one background thread, e.g. every 10-60 s.
  size_t SweepExpired(absl::Time now) override;
  // fsync; kOk or kUnavailable. Blocking.
  [[nodiscard]] Status Flush() override;
  // Records held (expired ones until swept); constant time.
  size_t Size() const override;
  void SetChangeListener(ChangeListener listener) override;
  // Reads the name's members from the "names" index and each member's record, all in one read
  // transaction (one snapshot), on the calling thread; the callback runs after it ended.
  void List(const ListRequest& request, ListCallback done) override;

  // The current and the largest map size, in bytes (status pages, tests).
  size_t map_bytes() const { return env_->map_bytes(); }
  size_t map_limit_bytes() const { return env_->map_limit_bytes(); }
  // Transactions committed (write batches and sweep chunks) and write operations committed in
  // them (metrics: their ratio is the mean batch size). Defined in lmdb_store.cc.
  uint64_t commit_count() const;
  uint64_t committed_op_count() const;

 private:
  LmdbStore(const Options& options, std::unique_ptr<LmdbEnv> env);
  // The periodic fsync thread: waits sync_interval (or until stopped), syncs if anything was
  // committed since its last sync.
  void SyncLoop();

  const Options options_;
  const std::unique_ptr<LmdbEnv> env_;
  const InputLimits limits_;
  const secret::Hasher hasher_;
  std::unique_ptr<LmdbWriter> writer_;

  std::mutex sync_mu_;  // (a standard mutex: see lmdb_writer.h on ThreadSanitizer)
  std::condition_variable sync_cv_;
  bool stop_sync_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::thread sync_thread_;
};

}  // namespace rendezvous::kv

// LmdbEnv: one opened LMDB data file: the process lock that keeps a second server off it, the
// LMDB environment and its databases, the file's metadata, map growth, fsync and the pool of
// reusable read transactions. LmdbStore (lmdb_store.h) builds the Store on top of it.
//
// Files, for a data file `P` (e.g. store.db):
//   P        the LMDB data file (MDB_NOSUBDIR), created with mode 0600;
//   P-lock   LMDB's reader table (LMDB's own; never opened here: closing any descriptor of it
//            would drop LMDB's POSIX locks);
//   P.lock   an empty file holding our exclusive flock(2) for as long as the env is open. LMDB
//            happily lets two processes share one file; two servers would then each believe they
//            own the capacity count and the version counter, so the second one is refused.
//
// Databases inside P: "entries" (key bytes -> record, see entry_codec.h), "quota" (creator ->
// records it created, see quota_dbi()), "creators" (creator -> the keys of those records, see
// creators_dbi()), "names" (announced name -> addresses, see names_dbi()) and "meta":
//   "format"       8-byte little-endian store format (kStoreFormat);
//   "hash_key"     the 32-byte secret::Hasher key, generated when the file is created and kept
//                  with it (digests in the file are useless without it; the plain secret is
//                  never stored);
//   "version_hwm"  8-byte little-endian highest entry version ever handed out, so versions (the
//                  ETags) stay unique and increasing across restarts, deletes included.
//
// Thread-safety: Read() and Sync() may be called from any thread. GrowMap() must be called by
// the one thread that writes, with no write transaction open. Other methods are immutable state.
#pragma once

#include <lmdb.h>
#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

// Format 2 added the "creators" index, format 3 the "names" index of announcements. An older file
// is upgraded at open (the missing indexes are built from the records in one transaction); a
// server of an older format refuses a newer file.
inline constexpr uint64_t kStoreFormat = 3;
inline constexpr uint64_t kStoreFormatV2 = 2;
inline constexpr uint64_t kStoreFormatV1 = 1;

// Bytes in and out of LMDB's MDB_val. ToVal's result points into `bytes` (LMDB only reads through
// it for keys and values it is given); ToView's into the map, valid until the transaction writes
// or ends.
inline MDB_val ToVal(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
inline std::string_view ToView(const MDB_val& val) {
  return std::string_view(static_cast<const char*>(val.mv_data), val.mv_size);
}

class LmdbEnv {
 public:
  struct Options {
    std::string path;
    // false: MDB_NOSYNC (commits reach the OS, fsync happens in Sync()); true: LMDB fsyncs in
    // every mdb_txn_commit.
    bool sync_every_write = false;
    // The map never grows beyond this (bytes, rounded down to whole pages). The map is address
    // space only (no MDB_WRITEMAP), so a generous bound costs nothing until data is written.
    size_t map_limit_bytes = 0;
    // Longest key the caller will ever store; Open fails when LMDB cannot hold it (511 bytes).
    size_t max_key_bytes = 100;
  };

  // Opens or creates the data file. On failure returns nullptr and sets `*error` to one line
  // "<path>: <reason>" (corrupt or not an LMDB file, truncated, not a rendezvous store, newer
  // format, held by another process, permission denied, ...). A failed open writes nothing to an
  // existing data file: a file is only initialised when it did not exist or was empty (0 bytes).
  static std::unique_ptr<LmdbEnv> Open(const Options& options, std::string* error);

  // Aborts the pooled read transactions, closes the environment and releases the flock. No
  // transaction may be in use.
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  MDB_env* env() const { return env_; }
  MDB_dbi entries_dbi() const { return entries_dbi_; }
  MDB_dbi meta_dbi() const { return meta_dbi_; }
  // "quota": creator (16 bytes) -> live records it created (u32 little-endian); a creator at 0 has
  // no record. Changed in the same write transaction as the records, so it survives restarts.
  MDB_dbi quota_dbi() const { return quota_dbi_; }
  // "creators" (MDB_DUPSORT): creator (16 bytes) -> the key of each record it created, one
  // duplicate per record. Changed with "quota" in the same transactions; lets a creation refused
  // for its creator's quota find and remove that creator's expired records in O(its quota).
  // Record keys fit as duplicates: LMDB limits both to its maximum key size.
  MDB_dbi creators_dbi() const { return creators_dbi_; }
  // "names" (MDB_DUPSORT): announced name -> the address of each record under
  // "ip/<address>/<name>" (kv/announcement.h), one duplicate per record, expired ones included
  // until removed. Changed with "creators" in the same transactions (a record's creation and
  // removal), so a listing reads one name's records without a scan.
  MDB_dbi names_dbi() const { return names_dbi_; }
  const std::string& path() const { return path_; }
  const secret::Key& hash_key() const { return hash_key_; }
  // Values read at open: "version_hwm" and the number of records.
  uint64_t version_high_water_at_open() const { return version_hwm_at_open_; }
  size_t entries_at_open() const { return entries_at_open_; }

  // Records `version` as the highest version handed out, inside the write transaction `txn`.
  // Returns 0 or the LMDB error (which spoils `txn`, e.g. MDB_MAP_FULL).
  int PutVersionHighWater(MDB_txn* txn, uint64_t version);

  // Runs `body` inside a read transaction (a snapshot of the last commit) and returns 0, or
  // returns the LMDB error that prevented starting one (MDB_READERS_FULL, ...) without running
  // `body`. Pointers obtained inside `body` die with it. The transaction comes from a pool and is
  // reset, not freed, afterwards (MDB_NOTLS: reader slots belong to transactions, not threads).
  // `body` must not call Read() or GrowMap(): a map resize waits for running bodies.
  int Read(absl::FunctionRef<void(MDB_txn*)> body);

  // Enlarges the map after MDB_MAP_FULL: doubles it (at least +64 MiB) up to the limit. Returns
  // false when the map is already at the limit or LMDB refused. Waits for running Read() bodies.
  bool GrowMap();
  size_t map_bytes() const;
  size_t map_limit_bytes() const { return map_limit_bytes_; }

  // fsync of the data file (mdb_env_sync with force): every transaction committed before the
  // call is on disk when it returns 0. Returns 0 or an errno value.
  [[nodiscard]] int Sync();

  // Whether a failed write means "no room" (507) rather than "broken" (kUnavailable):
  // MDB_MAP_FULL, ENOSPC, EDQUOT, EFBIG, and EIO when the file system is nearly full (LMDB turns
  // a short write on a full disk into EIO).
  bool IsStorageFull(int rc) const;

 private:
  // A reader-writer lock that lets a waiting writer in ahead of new readers. glibc's default
  // rwlock (and so std::shared_mutex) prefers readers: a steady stream of Gets could hold off a
  // map resize, and with it every write, indefinitely. Readers must not re-lock recursively.
  class MapLock {
   public:
    MapLock();
    ~MapLock();
    MapLock(const MapLock&) = delete;
    MapLock& operator=(const MapLock&) = delete;
    void lock();
    void unlock();
    void lock_shared();
    void unlock_shared();

   private:
    pthread_rwlock_t rwlock_;
  };

  LmdbEnv() = default;
  // The part of Open after mdb_env_open: checks and loads the metadata, or initialises a file
  // that holds no data. On failure sets `*reason` and returns false.
  bool Load(std::string* reason);
  bool Initialise(std::string* reason);
  // Turns a format 1 or 2 file into the current format (builds the indexes it lacks).
  bool Upgrade(uint64_t from_format, std::string* reason);

  std::string path_;
  int lock_fd_ = -1;
  MDB_env* env_ = nullptr;
  MDB_dbi entries_dbi_ = 0;
  MDB_dbi meta_dbi_ = 0;
  MDB_dbi quota_dbi_ = 0;
  MDB_dbi creators_dbi_ = 0;
  MDB_dbi names_dbi_ = 0;
  secret::Key hash_key_{};
  uint64_t version_hwm_at_open_ = 0;
  size_t entries_at_open_ = 0;
  size_t map_limit_bytes_ = 0;

  // Held shared by every running Read() body and exclusively by GrowMap: mdb_env_set_mapsize
  // remaps the file, which would pull the pages from under a reader's value pointers.
  // (pthread-based locks, not absl::Mutex: see lmdb_writer.h on ThreadSanitizer.)
  mutable MapLock map_mu_;
  std::mutex pool_mu_;
  std::vector<MDB_txn*> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace rendezvous::kv

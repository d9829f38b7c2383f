// Opening, checking and growing the LMDB data file. See lmdb_env.h.
#include "kv/lmdb_env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <shared_mutex>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kv/announcement.h"
#include "kv/entry_codec.h"

namespace rendezvous::kv {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
// First map of a new or small file, and the least a growth step adds.
constexpr size_t kMapStepBytes = 64 * kMiB;
// Reader slots (one per pooled read transaction, i.e. per thread reading at the same time).
constexpr unsigned kMaxReaders = 512;
// EIO from a commit with less free space than this is taken for a full disk.
constexpr uint64_t kLowSpaceBytes = 16 * kMiB;

constexpr std::string_view kMetaFormat = "format";
constexpr std::string_view kMetaHashKey = "hash_key";
constexpr std::string_view kMetaVersionHwm = "version_hwm";

size_t PageBytes() {
  const long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<size_t>(page) : 4096;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// LMDB's own error names are cryptic in a start-up message; say what they mean for this file.
std::string DescribeLmdbError(int rc) {
  switch (rc) {
    case MDB_INVALID:
      return "not an LMDB data file, or its header is damaged (MDB_INVALID)";
    case MDB_VERSION_MISMATCH:
      return "written by an incompatible LMDB version (MDB_VERSION_MISMATCH)";
    case MDB_CORRUPTED:
      return "the database is corrupted (MDB_CORRUPTED)";
    case MDB_INCOMPATIBLE:
      return "not a rendezvous store: its layout does not match (MDB_INCOMPATIBLE)";
    default:
      return mdb_strerror(rc);  // also covers errno values (EACCES: "Permission denied")
  }
}

// The original Go server kept an append-only JSON log in the same default file name; a user who
// switches servers in place deserves to be told what the file is.
std::string JsonLogHint(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char first = 0;
  const ssize_t n = read(fd, &first, 1);
  close(fd);
  if (n == 1 && (first == '{' || first == '[')) {
    return " (it looks like the original server's JSON store, which this server cannot read)";
  }
  return "";
}

// Reads a metadata value; returns false when absent or not exactly `size` bytes.
bool GetMeta(MDB_txn* txn, MDB_dbi dbi, std::string_view name, size_t size, const char** out) {
  MDB_val key = ToVal(name);
  MDB_val value;
  if (mdb_get(txn, dbi, &key, &value) != 0 || value.mv_size != size) return false;
  *out = static_cast<const char*>(value.mv_data);
  return true;
}

}  // namespace

LmdbEnv::MapLock::MapLock() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  if (pthread_rwlock_init(&rwlock_, &attr) != 0) std::abort();  // only fails without memory
  pthread_rwlockattr_destroy(&attr);
}
LmdbEnv::MapLock::~MapLock() { pthread_rwlock_destroy(&rwlock_); }
void LmdbEnv::MapLock::lock() { pthread_rwlock_wrlock(&rwlock_); }
void LmdbEnv::MapLock::unlock() { pthread_rwlock_unlock(&rwlock_); }
void LmdbEnv::MapLock::lock_shared() { pthread_rwlock_rdlock(&rwlock_); }
void LmdbEnv::MapLock::unlock_shared() { pthread_rwlock_unlock(&rwlock_); }

std::unique_ptr<LmdbEnv> LmdbEnv::Open(const Options& options, std::string* error) {
  auto fail = [&](const std::string& reason) {
    *error = absl::StrCat(options.path, ": ", reason);
    return nullptr;
  };
  if (options.path.empty()) return fail("empty data file path");

  // What is there before LMDB touches anything.
  struct stat before;
  off_t existing_bytes = 0;
  if (stat(options.path.c_str(), &before) == 0) {
    if (!S_ISREG(before.st_mode)) return fail("not a regular file");
    existing_bytes = before.st_size;
  } else if (errno != ENOENT) {
    return fail(ErrnoText(errno));
  }

  std::unique_ptr<LmdbEnv> self(new LmdbEnv());
  self->path_ = options.path;

  // The process lock comes first, so that a second server never even opens the environment.
  const std::string lock_path = options.path + ".lock";
  self->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd_ < 0) {
    return fail(absl::StrCat("cannot open lock file ", lock_path, ": ", ErrnoText(errno)));
  }
  if (flock(self->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(absl::StrCat("in use by another process (", lock_path, " is locked)"));
    }
    return fail(absl::StrCat("cannot lock ", lock_path, ": ", ErrnoText(errno)));
  }

  // Map sizing: the limit covers what the configured entry count and sizes need; data already in
  // the file always fits, even when the limits were lowered since it was written.
  const size_t page = PageBytes();
  const size_t existing_rounded = (static_cast<size_t>(existing_bytes) + page - 1) / page * page;
  self->map_limit_bytes_ =
      std::max(options.map_limit_bytes / page * page, std::max(existing_rounded, 4 * page));
  const size_t initial_map = std::min(
      self->map_limit_bytes_, std::max(kMapStepBytes, 2 * static_cast<size_t>(existing_bytes)));

  int rc = mdb_env_create(&self->env_);
  if (rc != 0) {
    self->env_ = nullptr;
    return fail(DescribeLmdbError(rc));
  }
  if ((rc = mdb_env_set_maxdbs(self->env_, 5)) != 0 ||
      (rc = mdb_env_set_maxreaders(self->env_, kMaxReaders)) != 0 ||
      (rc = mdb_env_set_mapsize(self->env_, initial_map)) != 0) {
    return fail(DescribeLmdbError(rc));
  }
  // No MDB_WRITEMAP: with it a full disk kills the process with SIGBUS instead of failing a
  // commit, and a stray pointer write could corrupt the file.
  const unsigned flags =
      MDB_NOSUBDIR | MDB_NOTLS | (options.sync_every_write ? 0u : unsigned{MDB_NOSYNC});
  rc = mdb_env_open(self->env_, options.path.c_str(), flags, 0600);
  if (rc != 0) {
    std::string reason = DescribeLmdbError(rc);
    if (rc == MDB_INVALID) reason += JsonLogHint(options.path);
    return fail(reason);
  }

  // A file cut short (a bad copy, a full disk during a copy) still opens, and reading a page past
  // its end would kill the process with SIGBUS. The last used page must lie inside the file.
  MDB_envinfo info;
  MDB_stat env_stat;
  int fd = -1;
  struct stat now;
  mdb_env_info(self->env_, &info);
  mdb_env_stat(self->env_, &env_stat);
  if (mdb_env_get_fd(self->env_, &fd) != 0 || fstat(fd, &now) != 0) {
    return fail("cannot inspect the opened file");
  }
  const uint64_t needed_bytes = (uint64_t{info.me_last_pgno} + 1) * env_stat.ms_psize;
  if (static_cast<uint64_t>(now.st_size) < needed_bytes) {
    return fail(absl::StrCat("truncated: the file has ", now.st_size,
                             " bytes but its data reaches byte ", needed_bytes));
  }

  // Reader slots left behind by a killed process would pin old pages forever. Any slot found now
  // is stale: the flock above guarantees no other live process uses the file.
  int dead = 0;
  mdb_reader_check(self->env_, &dead);

  const int max_key = mdb_env_get_maxkeysize(self->env_);
  if (options.max_key_bytes > static_cast<size_t>(max_key)) {
    return fail(absl::StrCat("keys of ", options.max_key_bytes, " bytes exceed LMDB's limit of ",
                             max_key));
  }

  std::string reason;
  if (!self->Load(&reason)) return fail(reason);
  return self;
}

bool LmdbEnv::Load(std::string* reason) {
  // Existing files are inspected with a read-only transaction, so a refusal cannot write a byte.
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) {
    *reason = DescribeLmdbError(rc);
    return false;
  }
  rc = mdb_dbi_open(txn, "meta", 0, &meta_dbi_);
  if (rc == MDB_NOTFOUND) {
    // No metadata: a file LMDB just created, or another program's database. Only an empty one is
    // ours to initialise; anything else would be silently shadowed.
    MDB_dbi main_dbi;
    MDB_stat main_stat{};
    rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi);
    if (rc == 0) rc = mdb_stat(txn, main_dbi, &main_stat);
    mdb_txn_abort(txn);
    if (rc != 0) {
      *reason = DescribeLmdbError(rc);
      return false;
    }
    if (main_stat.ms_entries != 0) {
      *reason = "an LMDB database of another program (no rendezvous metadata); not touching it";
      return false;
    }
    return Initialise(reason);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    *reason = DescribeLmdbError(rc);
    return false;
  }

  const char* format = nullptr;
  const char* key = nullptr;
  const char* hwm = nullptr;
  if (!GetMeta(txn, meta_dbi_, kMetaFormat, 8, &format)) {
    *reason = "metadata damaged: no store format";
  } else if (DecodeUint64(format) != kStoreFormat && DecodeUint64(format) != kStoreFormatV2 &&
             DecodeUint64(format) != kStoreFormatV1) {
    *reason = absl::StrCat("store format ", DecodeUint64(format),
                           " is not supported (this build reads format ", kStoreFormat, ")");
  } else if (!GetMeta(txn, meta_dbi_, kMetaHashKey, secret::kKeyBytes, &key) ||
             !GetMeta(txn, meta_dbi_, kMetaVersionHwm, 8, &hwm)) {
    *reason = "metadata damaged: hashing key or version counter missing";
  } else if ((rc = mdb_dbi_open(txn, "entries", 0, &entries_dbi_)) != 0) {
    *reason = absl::StrCat("metadata damaged: no entries database (", DescribeLmdbError(rc), ")");
  } else if ((rc = mdb_dbi_open(txn, "quota", 0, &quota_dbi_)) != 0) {
    *reason = absl::StrCat("metadata damaged: no quota database (", DescribeLmdbError(rc), ")");
  } else if (DecodeUint64(format) >= kStoreFormatV2 &&
             (rc = mdb_dbi_open(txn, "creators", MDB_DUPSORT, &creators_dbi_)) != 0) {
    *reason = absl::StrCat("metadata damaged: no creators database (", DescribeLmdbError(rc), ")");
  } else if (DecodeUint64(format) == kStoreFormat &&
             (rc = mdb_dbi_open(txn, "names", MDB_DUPSORT, &names_dbi_)) != 0) {
    *reason = absl::StrCat("metadata damaged: no names database (", DescribeLmdbError(rc), ")");
  } else {
    const uint64_t from_format = DecodeUint64(format);
    const bool upgrade = from_format != kStoreFormat;
    std::memcpy(hash_key_.data(), key, secret::kKeyBytes);
    version_hwm_at_open_ = DecodeUint64(hwm);
    MDB_stat entries_stat{};
    mdb_stat(txn, entries_dbi_, &entries_stat);
    entries_at_open_ = entries_stat.ms_entries;
    // Committing a read-only transaction keeps the database handles open for the environment.
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
      *reason = DescribeLmdbError(rc);
      return false;
    }
    return !upgrade || Upgrade(from_format, reason);
  }
  mdb_txn_abort(txn);
  return false;
}

bool LmdbEnv::Initialise(std::string* reason) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) {
    *reason = DescribeLmdbError(rc);
    return false;
  }
  hash_key_ = secret::Hasher::WithRandomKey().key();
  char format[8];
  char hwm[8];
  EncodeUint64(kStoreFormat, format);
  EncodeUint64(0, hwm);
  const std::string_view key_bytes(reinterpret_cast<const char*>(hash_key_.data()),
                                   hash_key_.size());
  auto put = [&](std::string_view name, std::string_view bytes) {
    MDB_val k = ToVal(name);
    MDB_val v = ToVal(bytes);
    return mdb_put(txn, meta_dbi_, &k, &v, 0);
  };
  if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta_dbi_)) != 0 ||
      (rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &entries_dbi_)) != 0 ||
      (rc = mdb_dbi_open(txn, "quota", MDB_CREATE, &quota_dbi_)) != 0 ||
      (rc = mdb_dbi_open(txn, "creators", MDB_CREATE | MDB_DUPSORT, &creators_dbi_)) != 0 ||
      (rc = mdb_dbi_open(txn, "names", MDB_CREATE | MDB_DUPSORT, &names_dbi_)) != 0 ||
      (rc = put(kMetaFormat, std::string_view(format, 8))) != 0 ||
      (rc = put(kMetaHashKey, key_bytes)) != 0 ||
      (rc = put(kMetaVersionHwm, std::string_view(hwm, 8))) != 0) {
    mdb_txn_abort(txn);
    *reason = absl::StrCat("cannot initialise a new store: ", DescribeLmdbError(rc));
    return false;
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) {
    *reason = absl::StrCat("cannot initialise a new store: ", DescribeLmdbError(rc));
    return false;
  }
  version_hwm_at_open_ = 0;
  entries_at_open_ = 0;
  return true;
}

bool LmdbEnv::Upgrade(uint64_t from_format, std::string* reason) {
  // Format 1 had no "creators" index and formats 1 and 2 no "names" index: build what is missing
  // from the records in one transaction (one walk of the file), then mark the file as the
  // current format. Either all of it commits or nothing does.
  const bool build_creators = from_format < kStoreFormatV2;
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  MDB_cursor* cursor = nullptr;
  if (rc == 0 && build_creators) {
    rc = mdb_dbi_open(txn, "creators", MDB_CREATE | MDB_DUPSORT, &creators_dbi_);
  }
  if (rc == 0) rc = mdb_dbi_open(txn, "names", MDB_CREATE | MDB_DUPSORT, &names_dbi_);
  if (rc == 0) rc = mdb_cursor_open(txn, entries_dbi_, &cursor);
  if (rc == 0) {
    MDB_val k;
    MDB_val v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      EntryHeader header;
      std::string_view value;
      if (!DecodeEntry(ToView(v), &header, &value)) {
        continue;  // a damaged record is never removed, so it needs no index entry
      }
      MDB_val creator{header.creator.size(), header.creator.data()};
      if (build_creators && (rc = mdb_put(txn, creators_dbi_, &creator, &k, 0)) != 0) break;
      const std::optional<Announcement> announcement = ParseAnnouncement(ToView(k));
      if (announcement) {
        MDB_val name = ToVal(announcement->name);
        MDB_val address = ToVal(announcement->address);
        if ((rc = mdb_put(txn, names_dbi_, &name, &address, 0)) != 0) break;
      }
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cursor);
  }
  if (rc == 0) {
    char format[8];
    EncodeUint64(kStoreFormat, format);
    MDB_val k = ToVal(kMetaFormat);
    MDB_val v{sizeof(format), format};
    rc = mdb_put(txn, meta_dbi_, &k, &v, 0);
  }
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn != nullptr) {
    mdb_txn_abort(txn);
  }
  if (rc != 0) {
    *reason = absl::StrCat("cannot upgrade the store from format ", from_format, ": ",
                           DescribeLmdbError(rc));
    return false;
  }
  return true;
}

LmdbEnv::~LmdbEnv() {
  if (env_ != nullptr) {
    std::lock_guard lock(pool_mu_);
    for (MDB_txn* txn : idle_readers_) mdb_txn_abort(txn);
    idle_readers_.clear();
    mdb_env_close(env_);
  }
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

int LmdbEnv::PutVersionHighWater(MDB_txn* txn, uint64_t version) {
  char bytes[8];
  EncodeUint64(version, bytes);
  MDB_val key = ToVal(kMetaVersionHwm);
  MDB_val value{sizeof(bytes), bytes};
  return mdb_put(txn, meta_dbi_, &key, &value, 0);
}

int LmdbEnv::Read(absl::FunctionRef<void(MDB_txn*)> body) {
  std::shared_lock map_lock(map_mu_);
  MDB_txn* txn = nullptr;
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      txn = idle_readers_.back();
      idle_readers_.pop_back();
    }
  }
  if (txn != nullptr) {
    if (const int rc = mdb_txn_renew(txn); rc != 0) {
      mdb_txn_abort(txn);
      return rc;
    }
  } else if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) {
    return rc;
  }
  body(txn);
  // Reset releases the snapshot (old pages become reusable) but keeps the reader slot.
  mdb_txn_reset(txn);
  std::lock_guard lock(pool_mu_);
  idle_readers_.push_back(txn);
  return 0;
}

bool LmdbEnv::GrowMap() {
  const size_t current = map_bytes();
  if (current >= map_limit_bytes_) return false;
  const size_t page = PageBytes();
  const size_t wanted = std::max(current * 2, current + kMapStepBytes) / page * page;
  const size_t next = std::min(map_limit_bytes_, wanted);
  int rc;
  {
    // mdb_env_set_mapsize needs no transaction open in this process; reset (pooled) read
    // transactions hold no pointers into the map and re-read it when renewed.
    std::lock_guard lock(map_mu_);
    rc = mdb_env_set_mapsize(env_, next);
  }
  if (rc != 0) {
    common::LogError(absl::StrCat(path_, ": cannot grow the map to ", next / kMiB,
                                  " MiB: ", DescribeLmdbError(rc)));
    return false;
  }
  common::LogInfo(absl::StrCat(path_, ": map grown to ", next / kMiB, " MiB (limit ",
                               map_limit_bytes_ / kMiB, " MiB)"));
  return true;
}

size_t LmdbEnv::map_bytes() const {
  std::shared_lock lock(map_mu_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

int LmdbEnv::Sync() { return mdb_env_sync(env_, 1); }

bool LmdbEnv::IsStorageFull(int rc) const {
  switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return true;
    case EIO: {
      int fd = -1;
      struct statvfs fs;
      if (mdb_env_get_fd(env_, &fd) != 0 || fstatvfs(fd, &fs) != 0) return false;
      return uint64_t{fs.f_bavail} * fs.f_frsize < kLowSpaceBytes;
    }
    default:
      return false;
  }
}

}  // namespace rendezvous::kv

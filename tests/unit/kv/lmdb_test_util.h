// Helpers for the LMDB engine's tests: a temporary directory per test, synchronous wrappers
// around the asynchronous Store calls, whole-file reads for "the file is unchanged" checks, and
// the fixture of lmdb_store_test.cc and lmdb_writer_test.cc.
//
// Thread-safety: each helper object belongs to one test; the Sync* functions may be called from
// several threads at once.
#pragma once

#include <array>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "kv/lmdb_store.h"
#include "kv/store.h"

namespace rendezvous::kv::testing {

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = std::filesystem::path(::testing::TempDir()) / "rdv-lmdb-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline unsigned FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

// Options for a store in `dir` with a small, fast footprint.
inline LmdbStore::Options OptionsIn(const TempDir& dir, size_t max_entries = 1000) {
  LmdbStore::Options options;
  options.path = dir.File("store.db");
  options.max_entries = max_entries;
  return options;
}

inline std::unique_ptr<LmdbStore> OpenOrFail(const LmdbStore::Options& options) {
  std::string error;
  std::unique_ptr<LmdbStore> store = LmdbStore::Open(options, &error);
  EXPECT_NE(store, nullptr) << error;
  return store;
}

// Waits for a completion callback; a lost callback fails the test instead of hanging it.
template <typename T>
T AwaitResult(std::future<T>& future, T if_lost) {
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the completion callback was not invoked";
    return if_lost;
  }
  return future.get();
}

struct GotEntry {
  Status status = Status::kUnavailable;
  std::string value;
  uint64_t version = 0;
  absl::Time expires_at;
};

inline GotEntry SyncGet(Store& store, std::string_view key, absl::Time now) {
  std::promise<GotEntry> promise;
  std::future<GotEntry> future = promise.get_future();
  store.Get(key, now, [&promise](const GetResult& result) {
    GotEntry got;
    got.status = result.status;
    if (result.status == Status::kOk) {
      got.value = std::string(result.entry.value);
      got.version = result.entry.version;
      got.expires_at = result.entry.expires_at;
    }
    promise.set_value(std::move(got));
  });
  return AwaitResult(future, GotEntry{});
}

inline WriteResult SyncPut(Store& store, std::string_view key, std::string_view value,
                           absl::Time now, absl::Duration ttl = absl::Hours(2),
                           std::string_view secret = "",
                           const std::array<uint8_t, 16>& creator = {}, uint32_t quota = 0) {
  PutRequest request;
  request.key = key;
  request.value = value;
  request.secret = secret;
  request.now = now;
  request.expires_at = now + ttl;
  request.creator = creator;
  request.max_entries_per_creator = quota;
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  store.Put(request, [&promise](const WriteResult& result) { promise.set_value(result); });
  return AwaitResult(future, WriteResult{});
}

inline WriteResult SyncDelete(Store& store, std::string_view key, absl::Time now,
                              std::string_view secret = "") {
  DeleteRequest request;
  request.key = key;
  request.secret = secret;
  request.now = now;
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  store.Delete(request, [&promise](const WriteResult& result) { promise.set_value(result); });
  return AwaitResult(future, WriteResult{});
}

// The LMDB tests' fixture: a fresh directory and a manual clock per test.
class LmdbStoreTest : public ::testing::Test {
 protected:
  absl::Time Now() const { return clock_.Now(); }

  TempDir dir_;
  common::ManualClock clock_;
};

}  // namespace rendezvous::kv::testing

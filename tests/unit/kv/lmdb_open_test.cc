// LmdbStore::Open: a file that cannot be used stops the start with one line naming the file and
// the reason, and the file is left exactly as it was. Never start empty over existing data.
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kv/entry_codec.h"
#include "kv/lmdb_store.h"
#include "lmdb_test_util.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

using ::testing::HasSubstr;
using testing::OpenOrFail;
using testing::OptionsIn;
using testing::ReadFileBytes;
using testing::SyncGet;
using testing::SyncPut;
using testing::TempDir;
using testing::WriteFileBytes;

class LmdbOpenTest : public ::testing::Test {
 protected:
  // A valid store with a few hundred records (so the file has many pages), closed again.
  void MakeStoreWithData() {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 300; ++i) {
      ASSERT_EQ(SyncPut(*store, "key" + std::to_string(i), std::string(900, 'v'), clock_.Now())
                    .status,
                Status::kOk);
    }
  }

  // Opens path() expecting a refusal; returns the error line.
  std::string ExpectRefused() {
    std::string error;
    std::unique_ptr<LmdbStore> store = LmdbStore::Open(OptionsIn(dir_), &error);
    EXPECT_EQ(store, nullptr);
    EXPECT_THAT(error, HasSubstr(path()));
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
    return error;
  }

  std::string path() const { return dir_.File("store.db"); }

  TempDir dir_;
  common::ManualClock clock_;
};

TEST_F(LmdbOpenTest, AMissingFileIsCreatedEmpty) {
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 0u);
}

TEST_F(LmdbOpenTest, AZeroLengthFileHoldsNoDataAndBecomesANewStore) {
  WriteFileBytes(path(), "");
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncPut(*store, "k", "v", clock_.Now()).status, Status::kOk);
}

TEST_F(LmdbOpenTest, AFileWhoseFirstPagesAreRandomIsRefusedAndLeftUntouched) {
  MakeStoreWithData();
  std::string bytes = ReadFileBytes(path());
  ASSERT_GT(bytes.size(), 8192u);
  std::mt19937 random(42);
  for (size_t i = 0; i < 8192; ++i) bytes[i] = static_cast<char>(random());
  WriteFileBytes(path(), bytes);
  EXPECT_THAT(ExpectRefused(), HasSubstr("not an LMDB data file"));
  EXPECT_EQ(ReadFileBytes(path()), bytes);
}

TEST_F(LmdbOpenTest, AGarbageFileIsRefusedAndLeftUntouched) {
  const std::string garbage(20000, 'x');
  WriteFileBytes(path(), garbage);
  EXPECT_THAT(ExpectRefused(), HasSubstr("not an LMDB data file"));
  EXPECT_EQ(ReadFileBytes(path()), garbage);
}

TEST_F(LmdbOpenTest, TheOriginalServersJsonStoreIsRecognised) {
  const std::string json = R"({"key":"k","value":"v","secret":"","lastUpdate":1700000000})"
                           "\n";
  WriteFileBytes(path(), json);
  EXPECT_THAT(ExpectRefused(), HasSubstr("original server's JSON store"));
  EXPECT_EQ(ReadFileBytes(path()), json);
}

TEST_F(LmdbOpenTest, ATruncatedFileIsRefusedInsteadOfCrashingLater) {
  MakeStoreWithData();
  std::string bytes = ReadFileBytes(path());
  bytes.resize(bytes.size() / 2 / 4096 * 4096);
  WriteFileBytes(path(), bytes);
  EXPECT_THAT(ExpectRefused(), HasSubstr("truncated"));
  EXPECT_EQ(ReadFileBytes(path()), bytes);
}

TEST_F(LmdbOpenTest, AFileTruncatedToItsMetaPagesIsRefused) {
  MakeStoreWithData();
  std::string bytes = ReadFileBytes(path());
  bytes.resize(8192);
  WriteFileBytes(path(), bytes);
  EXPECT_THAT(ExpectRefused(), HasSubstr("truncated"));
  EXPECT_EQ(ReadFileBytes(path()), bytes);
}

TEST_F(LmdbOpenTest, AnotherProgramsLmdbDatabaseIsRefusedAndLeftUntouched) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, path().c_str(), MDB_NOSUBDIR, 0600), 0);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  MDB_val key{5, const_cast<char*>("hello")};
  MDB_val value{5, const_cast<char*>("world")};
  ASSERT_EQ(mdb_put(txn, dbi, &key, &value, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  const std::string before = ReadFileBytes(path());

  EXPECT_THAT(ExpectRefused(), HasSubstr("another program"));
  EXPECT_EQ(ReadFileBytes(path()), before);
}

TEST_F(LmdbOpenTest, AStoreOfANewerFormatIsRefused) {
  { auto store = OpenOrFail(OptionsIn(dir_)); }
  // Rewrite the format number as a newer server would have written it.
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 2), 0);
  ASSERT_EQ(mdb_env_open(env, path().c_str(), MDB_NOSUBDIR, 0600), 0);
  MDB_txn* txn = nullptr;
  MDB_dbi meta;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  char format[8];
  EncodeUint64(kStoreFormat + 1, format);
  MDB_val key{6, const_cast<char*>("format")};
  MDB_val value{8, format};
  ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  const std::string before = ReadFileBytes(path());

  EXPECT_THAT(ExpectRefused(), HasSubstr(absl::StrCat("store format ", kStoreFormat + 1, " is not supported")));
  EXPECT_EQ(ReadFileBytes(path()), before);
}

TEST_F(LmdbOpenTest, ASecondOpenIsRefusedWhileTheFirstHoldsTheFile) {
  auto first = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(SyncPut(*first, "k", "v", clock_.Now()).status, Status::kOk);
  const std::string before = ReadFileBytes(path());
  EXPECT_THAT(ExpectRefused(), HasSubstr("in use by another process"));
  EXPECT_EQ(ReadFileBytes(path()), before);
  // The refused open took nothing from the first store.
  EXPECT_EQ(SyncGet(*first, "k", clock_.Now()).value, "v");
  EXPECT_EQ(SyncPut(*first, "k2", "v", clock_.Now()).status, Status::kOk);
  first.reset();
  auto second = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Size(), 2u);
}

// Root ignores file permissions, so the refused open runs in a child process that gives up root
// first. The child reports the error line through a pipe.
TEST_F(LmdbOpenTest, AnUnreadableFileIsRefusedAndLeftUntouched) {
  MakeStoreWithData();
  std::remove(dir_.File("store.db.lock").c_str());
  std::remove(dir_.File("store.db-lock").c_str());
  const std::string before = ReadFileBytes(path());
  ASSERT_EQ(chmod(path().c_str(), 0), 0);
  std::string error;
  if (geteuid() != 0) {
    error = ExpectRefused();
  } else {
    // The unprivileged child must be able to create the lock files next to the data file.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
      std::string child_error;
      std::unique_ptr<LmdbStore> store = LmdbStore::Open(OptionsIn(dir_), &child_error);
      const ssize_t written = write(fds[1], child_error.data(), child_error.size());
      _exit(store == nullptr && written >= 0 ? 0 : 1);
    }
    close(fds[1]);
    char buffer[512];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) error.append(buffer, n);
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the unprivileged open did not fail: " << error;
  }
  EXPECT_THAT(error, HasSubstr(path()));
  EXPECT_THAT(error, HasSubstr("Permission denied"));
  ASSERT_EQ(chmod(path().c_str(), 0600), 0);
  EXPECT_EQ(ReadFileBytes(path()), before);
}

TEST_F(LmdbOpenTest, AMissingDirectoryIsRefused) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.path = dir_.File("no/such/dir/store.db");
  std::string error;
  EXPECT_EQ(LmdbStore::Open(options, &error), nullptr);
  EXPECT_THAT(error, HasSubstr(options.path));
  EXPECT_THAT(error, HasSubstr("No such file or directory"));
}

TEST_F(LmdbOpenTest, ADirectoryIsRefused) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.path = dir_.path();
  std::string error;
  EXPECT_EQ(LmdbStore::Open(options, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("not a regular file"));
}

TEST_F(LmdbOpenTest, KeysLongerThanLmdbCanHoldAreRefusedAtOpen) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_key_bytes = 512;
  std::string error;
  EXPECT_EQ(LmdbStore::Open(options, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("exceed LMDB's limit of 511"));
}

TEST_F(LmdbOpenTest, ANonPositiveSyncIntervalIsRefused) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.sync_interval = absl::ZeroDuration();
  std::string error;
  EXPECT_EQ(LmdbStore::Open(options, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("sync interval"));
}

}  // namespace
}  // namespace rendezvous::kv

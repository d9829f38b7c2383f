// LmdbStore: the Store contract suite, plus what only the durable engine promises: everything
// survives a reopen (older file formats are upgraded), writes are in the file before they are
// acknowledged, secrets never reach the file. The writer's own promises are in
// lmdb_writer_test.cc.
#include "kv/lmdb_store.h"

#include <array>
#include <lmdb.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "kv/entry_codec.h"
#include "gtest/gtest.h"
#include "lmdb_test_util.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

using testing::LmdbStoreTest;
using testing::OpenOrFail;
using testing::OptionsIn;
using testing::ReadFileBytes;
using testing::SyncDelete;
using testing::SyncGet;
using testing::SyncPut;
using testing::TempDir;

// The contract suite's store: an LmdbStore in its own temporary directory, removed after it.
class TempDirLmdbStore final : public Store {
 public:
  explicit TempDirLmdbStore(size_t max_entries) {
    LmdbStore::Options options = OptionsIn(dir_, max_entries);
    options.max_key_bytes = kContractLimits.max_key_bytes;
    options.max_value_bytes = kContractLimits.max_value_bytes;
    store_ = OpenOrFail(options);
  }
  ~TempDirLmdbStore() override { store_.reset(); }  // before the directory goes

  bool ok() const { return store_ != nullptr; }
  void Get(std::string_view key, absl::Time now, GetCallback done) override {
    store_->Get(key, now, std::move(done));
  }
  void Put(const PutRequest& request, WriteCallback done) override {
    store_->Put(request, std::move(done));
  }
  void Delete(const DeleteRequest& request, WriteCallback done) override {
    store_->Delete(request, std::move(done));
  }
  void List(const ListRequest& request, ListCallback done) override {
    store_->List(request, std::move(done));
  }
  size_t SweepExpired(absl::Time now) override { return store_->SweepExpired(now); }
  Status Flush() override { return store_->Flush(); }
  size_t Size() const override { return store_->Size(); }
  void SetChangeListener(ChangeListener listener) override {
    store_->SetChangeListener(std::move(listener));
  }

 private:
  TempDir dir_;
  std::unique_ptr<LmdbStore> store_;
};

std::unique_ptr<Store> MakeLmdbStore(size_t max_entries) {
  auto store = std::make_unique<TempDirLmdbStore>(max_entries);
  if (!store->ok()) return nullptr;
  return store;
}

INSTANTIATE_TEST_SUITE_P(Lmdb, StoreContractTest,
                         ::testing::Values(StoreFactory{"Lmdb", MakeLmdbStore}),
                         StoreFactoryName);

TEST_F(LmdbStoreTest, ValuesOwnersExpiriesAndVersionsSurviveAReopen) {
  const absl::Time expires_a = Now() + absl::Minutes(110);
  uint64_t version_a = 0;
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "a", "first", Now()).status, Status::kOk);
    const WriteResult update = SyncPut(*store, "a", "second", Now(), absl::Minutes(110), "s3cret");
    ASSERT_EQ(update.status, Status::kOk);
    version_a = update.version;
    ASSERT_EQ(SyncPut(*store, "b", "unowned", Now()).status, Status::kOk);
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 2u);
  const testing::GotEntry a = SyncGet(*store, "a", Now());
  ASSERT_EQ(a.status, Status::kOk);
  EXPECT_EQ(a.value, "second");
  EXPECT_EQ(a.version, version_a);
  EXPECT_EQ(a.expires_at, expires_a);
  // The claim survived: only the owner's secret may write.
  EXPECT_EQ(SyncPut(*store, "a", "x", Now(), absl::Hours(1), "wrong").status, Status::kForbidden);
  EXPECT_EQ(SyncPut(*store, "a", "x", Now()).status, Status::kForbidden);
  EXPECT_EQ(SyncPut(*store, "a", "third", Now(), absl::Hours(1), "s3cret").status, Status::kOk);
  // Expiry is absolute: 110 minutes after the write, whenever the restart happened.
  clock_.Advance(absl::Minutes(100));
  EXPECT_EQ(SyncGet(*store, "b", Now()).status, Status::kOk);
  clock_.Advance(absl::Minutes(20));
  EXPECT_EQ(SyncGet(*store, "b", Now()).status, Status::kNotFound);
}

TEST_F(LmdbStoreTest, KeyQuotaCountsSurviveAReopen) {
  std::array<uint8_t, 16> alice{};
  alice[0] = 1;
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "a0", "v", Now(), absl::Hours(1), "", alice, 3).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "a1", "v", Now(), absl::Hours(1), "", alice, 3).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "a2", "v", Now(), absl::Hours(1), "", alice, 3).status, Status::kOk);
    ASSERT_EQ(SyncDelete(*store, "a1", Now()).status, Status::kOk);
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncPut(*store, "a3", "v", Now(), absl::Hours(1), "", alice, 3).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "a4", "v", Now(), absl::Hours(1), "", alice, 3).status,
            Status::kQuotaReached);
}

TEST_F(LmdbStoreTest, ACreatorsExpiredKeysAreFoundAfterAReopen) {
  std::array<uint8_t, 16> alice{};
  alice[0] = 1;
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "a0", "v", Now(), absl::Seconds(1), "", alice, 2).status,
              Status::kOk);
    ASSERT_EQ(SyncPut(*store, "a1", "v", Now(), absl::Seconds(1), "", alice, 2).status,
              Status::kOk);
  }
  clock_.Advance(absl::Seconds(2));
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncPut(*store, "a2", "v", Now(), absl::Hours(1), "", alice, 2).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "a3", "v", Now(), absl::Hours(1), "", alice, 2).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "a4", "v", Now(), absl::Hours(1), "", alice, 2).status,
            Status::kQuotaReached);
  EXPECT_EQ(store->Size(), 2u);
}

TEST_F(LmdbStoreTest, AFormatOneFileGetsItsCreatorsIndexAtOpen) {
  std::array<uint8_t, 16> alice{};
  alice[0] = 1;
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "a0", "v", Now(), absl::Seconds(1), "", alice, 2).status,
              Status::kOk);
    ASSERT_EQ(SyncPut(*store, "a1", "v", Now(), absl::Seconds(1), "", alice, 2).status,
              Status::kOk);
  }
  {
    // Turn the file back into format 1: no "creators" database.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 4), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.File("store.db").c_str(), MDB_NOSUBDIR, 0600), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi meta;
    MDB_dbi creators;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "creators", MDB_DUPSORT, &creators), 0);
    ASSERT_EQ(mdb_drop(txn, creators, 1), 0);
    char format[8];
    EncodeUint64(kStoreFormatV1, format);
    MDB_val key{6, const_cast<char*>("format")};
    MDB_val value{8, format};
    ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  clock_.Advance(absl::Seconds(2));
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  // The rebuilt index finds Alice's expired keys when she is at her quota.
  EXPECT_EQ(SyncPut(*store, "a2", "v", Now(), absl::Hours(1), "", alice, 2).status, Status::kOk);
  EXPECT_EQ(store->Size(), 1u);
}

TEST_F(LmdbStoreTest, AFormatTwoFileGetsItsNamesIndexAtOpen) {
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "ip/10.0.0.1/chat", "a", Now(), absl::Hours(1)).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "ip/10.0.0.2/chat", "b", Now(), absl::Hours(1)).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "ip/10.0.0.3/other", "c", Now(), absl::Hours(1)).status,
              Status::kOk);
    ASSERT_EQ(SyncPut(*store, "plain", "d", Now(), absl::Hours(1)).status, Status::kOk);
  }
  {
    // Turn the file back into format 2: no "names" database.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 5), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.File("store.db").c_str(), MDB_NOSUBDIR, 0600), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi meta;
    MDB_dbi names;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "names", MDB_DUPSORT, &names), 0);
    ASSERT_EQ(mdb_drop(txn, names, 1), 0);
    char format[8];
    EncodeUint64(kStoreFormatV2, format);
    MDB_val key{6, const_cast<char*>("format")};
    MDB_val value{8, format};
    ASSERT_EQ(mdb_put(txn, meta, &key, &value, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  std::promise<ListResult> promise;
  ListRequest request;
  request.name = "chat";
  request.now = Now();
  store->List(request, [&promise](const ListResult& result) { promise.set_value(result); });
  const ListResult result = promise.get_future().get();
  ASSERT_EQ(result.status, Status::kOk);
  EXPECT_EQ(result.total, 2u);
  ASSERT_EQ(result.peers.size(), 2u);
  EXPECT_EQ(result.peers[0].address, "10.0.0.1");
  EXPECT_EQ(result.peers[1].value, "b");
  // And the rebuilt index is maintained from there on.
  ASSERT_EQ(SyncDelete(*store, "ip/10.0.0.1/chat", Now()).status, Status::kOk);
  std::promise<ListResult> again;
  store->List(request, [&again](const ListResult& result) { again.set_value(result); });
  EXPECT_EQ(again.get_future().get().total, 1u);
}

TEST_F(LmdbStoreTest, VersionsKeepIncreasingAcrossReopensEvenForDeletedKeys) {
  uint64_t last = 0;
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "gone", "v", Now()).status, Status::kOk);
    const WriteResult again = SyncPut(*store, "gone", "v2", Now());
    last = again.version;
    ASSERT_EQ(SyncDelete(*store, "gone", Now()).status, Status::kOk);
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  const WriteResult recreated = SyncPut(*store, "gone", "v3", Now());
  ASSERT_EQ(recreated.status, Status::kOk);
  EXPECT_GT(recreated.version, last);
}

TEST_F(LmdbStoreTest, BinaryKeysRoundTripThroughAReopen) {
  std::vector<std::string> keys;
  for (int byte = 0; byte < 256; ++byte) keys.push_back(std::string(1, static_cast<char>(byte)));
  keys.push_back(std::string("a\0b", 3));
  keys.push_back(std::string("a\0c", 3));
  keys.push_back("line\nbreak\r\n");
  keys.push_back("\xff\xfe not utf-8 \xc3\x28");
  keys.push_back(std::string(100, '\x01'));
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    for (const std::string& key : keys) {
      ASSERT_EQ(SyncPut(*store, key, "value of " + key, Now()).status, Status::kOk);
    }
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), keys.size());
  for (const std::string& key : keys) {
    const testing::GotEntry got = SyncGet(*store, key, Now());
    ASSERT_EQ(got.status, Status::kOk) << "key of " << key.size() << " bytes";
    EXPECT_EQ(got.value, "value of " + key);
  }
}

TEST_F(LmdbStoreTest, TheDataFileNeverHoldsAPostedSecret) {
  const std::string secret = "correct-horse-battery-staple-4711";
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "k", "v", Now(), absl::Hours(1), secret).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "k", "w", Now(), absl::Hours(1), secret).status, Status::kOk);
    ASSERT_EQ(SyncDelete(*store, "k", Now(), secret).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "k2", "v", Now(), absl::Hours(1), secret).status, Status::kOk);
  }
  const std::string bytes = ReadFileBytes(dir_.File("store.db"));
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(secret), std::string::npos);
}

TEST_F(LmdbStoreTest, TheDataFileIsPrivateToItsOwner) {
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(testing::FileMode(dir_.File("store.db")), 0600u);
  EXPECT_EQ(testing::FileMode(dir_.File("store.db.lock")), 0600u);
}

TEST_F(LmdbStoreTest, AWriteIsInTheFileBeforeItsCallbackRuns) {
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  const std::string marker = "marker-value-0123456789-unique";
  PutRequest request;
  request.key = "k";
  request.value = marker;
  request.now = Now();
  request.expires_at = Now() + absl::Hours(1);
  std::promise<bool> in_file;
  std::future<bool> future = in_file.get_future();
  const std::string path = dir_.File("store.db");
  store->Put(request, [&](const WriteResult& result) {
    // Reading through the page cache sees what a process killed now would leave behind.
    in_file.set_value(result.status == Status::kOk &&
                      ReadFileBytes(path).find(marker) != std::string::npos);
  });
  EXPECT_TRUE(testing::AwaitResult(future, false));
}

TEST_F(LmdbStoreTest, WithSyncEveryWriteWritesStillWork) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.sync_every_write = true;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncPut(*store, "k", "v", Now()).status, Status::kOk);
  EXPECT_EQ(SyncGet(*store, "k", Now()).value, "v");
  EXPECT_EQ(store->Flush(), Status::kOk);
}

}  // namespace
}  // namespace rendezvous::kv

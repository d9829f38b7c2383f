// The LMDB engine's group-commit writer (kv/lmdb_writer.h), through LmdbStore: the bounded queue
// refuses at once, expired records make room at capacity and quota, sweeps walk the file in
// chunks, concurrent writes are all committed, the listener runs between commit and callback,
// and a damaged record is left alone.
#include <lmdb.h>

#include <array>
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kv/lmdb_store.h"
#include "lmdb_test_util.h"

namespace rendezvous::kv {
namespace {

using testing::LmdbStoreTest;
using testing::OpenOrFail;
using testing::OptionsIn;
using testing::SyncDelete;
using testing::SyncGet;
using testing::SyncPut;

TEST_F(LmdbStoreTest, AWriteToAFullQueueIsRefusedAtOnceAndWritesNothing) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_queued_writes = 1;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  // The first write's callback holds the writer thread, so the next write stays queued.
  std::promise<void> writer_held;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  PutRequest request;
  request.value = "v";
  request.now = Now();
  request.expires_at = Now() + absl::Hours(1);
  request.key = "held";
  store->Put(request, [&writer_held, released](const WriteResult&) {
    writer_held.set_value();
    released.wait();
  });
  writer_held.get_future().wait();
  std::promise<WriteResult> queued;
  request.key = "queued";
  store->Put(request, [&queued](const WriteResult& result) { queued.set_value(result); });

  bool refused_inline = false;
  request.key = "refused";
  store->Put(request, [&refused_inline](const WriteResult& result) {
    EXPECT_EQ(result.status, Status::kUnavailable);
    refused_inline = true;
  });
  EXPECT_TRUE(refused_inline);
  DeleteRequest remove;
  remove.key = "held";
  remove.now = Now();
  bool delete_refused_inline = false;
  store->Delete(remove, [&delete_refused_inline](const WriteResult& result) {
    EXPECT_EQ(result.status, Status::kUnavailable);
    delete_refused_inline = true;
  });
  EXPECT_TRUE(delete_refused_inline);

  release.set_value();
  std::future<WriteResult> queued_result = queued.get_future();
  EXPECT_EQ(testing::AwaitResult(queued_result, WriteResult{}).status, Status::kOk);
  EXPECT_EQ(SyncGet(*store, "refused", Now()).status, Status::kNotFound);
  EXPECT_EQ(SyncGet(*store, "held", Now()).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "after", "v", Now()).status, Status::kOk);
}

TEST_F(LmdbStoreTest, ACapacityPurgeGivesTheCreatorsSlotsBack) {
  std::array<uint8_t, 16> alice{};
  alice[0] = 1;
  std::array<uint8_t, 16> bob{};
  bob[0] = 2;
  auto store = OpenOrFail(OptionsIn(dir_, 2));
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(SyncPut(*store, "a0", "v", Now(), absl::Seconds(10), "", alice, 2).status,
            Status::kOk);
  ASSERT_EQ(SyncPut(*store, "a1", "v", Now(), absl::Seconds(10), "", alice, 2).status,
            Status::kOk);
  clock_.Advance(absl::Seconds(10));
  // The store is full of Alice's expired keys: Bob's creation purges one (a0) to make room.
  ASSERT_EQ(SyncPut(*store, "b0", "v", Now(), absl::Hours(1), "", bob, 2).status, Status::kOk);
  ASSERT_EQ(SyncPut(*store, "a2", "v", Now(), absl::Hours(1), "", alice, 2).status, Status::kOk);
  EXPECT_EQ(store->SweepExpired(Now()), 0u);  // a1 went in the second purge
  EXPECT_EQ(SyncPut(*store, "a3", "v", Now(), absl::Hours(1), "", alice, 1).status,
            Status::kQuotaReached);
}

TEST_F(LmdbStoreTest, TheDestructorCompletesEveryQueuedWrite) {
  constexpr int kWrites = 2000;
  std::atomic<int> ok{0};
  {
    auto store = OpenOrFail(OptionsIn(dir_, kWrites));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kWrites; ++i) {
      PutRequest request;
      const std::string key = "k" + std::to_string(i);
      request.key = key;
      request.value = "v";
      request.now = Now();
      request.expires_at = Now() + absl::Hours(1);
      store->Put(request, [&ok](const WriteResult& result) {
        if (result.status == Status::kOk) ok.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(ok.load(), kWrites);
  auto store = OpenOrFail(OptionsIn(dir_, kWrites));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), static_cast<size_t>(kWrites));
}

TEST_F(LmdbStoreTest, ConcurrentWritersAreAllCommittedAndAcknowledged) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  auto store = OpenOrFail(OptionsIn(dir_, kThreads * kPerThread));
  ASSERT_NE(store, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = std::to_string(t) + "/" + std::to_string(i);
        if (SyncPut(*store, key, key, Now()).status == Status::kOk) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(store->Size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(SyncGet(*store, "7/299", Now()).value, "7/299");
}

TEST_F(LmdbStoreTest, ExpiredRecordsMakeRoomForNewKeysWithoutASweep) {
  auto store = OpenOrFail(OptionsIn(dir_, 4));
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(SyncPut(*store, "short1", "v", Now(), absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(SyncPut(*store, "long1", "v", Now(), absl::Hours(1)).status, Status::kOk);
  ASSERT_EQ(SyncPut(*store, "short2", "v", Now(), absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(SyncPut(*store, "long2", "v", Now(), absl::Hours(1)).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "new0", "v", Now()).status, Status::kCapacityReached);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(SyncPut(*store, "new1", "v", Now()).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "new2", "v", Now()).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "new3", "v", Now()).status, Status::kCapacityReached);
  EXPECT_EQ(store->Size(), 4u);
  EXPECT_EQ(SyncGet(*store, "long1", Now()).status, Status::kOk);
  EXPECT_EQ(SyncGet(*store, "long2", Now()).status, Status::kOk);
}

TEST_F(LmdbStoreTest, CapacityPurgesFindExpiredRecordsAnywhereInTheKeySpace) {
  constexpr int kMax = 300;
  auto store = OpenOrFail(OptionsIn(dir_, kMax));
  ASSERT_NE(store, nullptr);
  // Every third key lives long; the others expire. Keys spread over the whole key order.
  for (int i = 0; i < kMax; ++i) {
    const absl::Duration ttl = i % 3 == 0 ? absl::Hours(1) : absl::Seconds(1);
    ASSERT_EQ(SyncPut(*store, "k" + std::to_string(i), "v", Now(), ttl).status, Status::kOk);
  }
  clock_.Advance(absl::Seconds(1));
  // Exactly the expired places can be taken again, in any number of steps.
  int created = 0;
  while (SyncPut(*store, "new" + std::to_string(created), "v", Now()).status == Status::kOk) {
    ++created;
    ASSERT_LE(created, kMax);
  }
  EXPECT_EQ(created, kMax - kMax / 3);
  for (int i = 0; i < kMax; i += 3) {
    EXPECT_EQ(SyncGet(*store, "k" + std::to_string(i), Now()).status, Status::kOk);
  }
}

TEST_F(LmdbStoreTest, SweepWalksSeveralChunksAndRemovesExactlyTheExpired) {
  constexpr int kRecords = 2 * LmdbWriter::kSweepChunkRecords + 500;
  auto store = OpenOrFail(OptionsIn(dir_, kRecords + 1));
  ASSERT_NE(store, nullptr);
  std::atomic<int> done{0};
  const std::string value(100, 'v');
  for (int i = 0; i < kRecords; ++i) {
    PutRequest request;
    const std::string key = "key" + std::to_string(i);
    request.key = key;
    request.value = value;
    request.now = Now();
    request.expires_at = Now() + (i % 2 == 0 ? absl::Seconds(1) : absl::Hours(1));
    store->Put(request, [&done](const WriteResult&) { done.fetch_add(1); });
  }
  // One synchronous write more: the writer completes in order, so all above are done.
  ASSERT_EQ(SyncPut(*store, "last", "v", Now(), absl::Hours(1)).status, Status::kOk);
  ASSERT_EQ(done.load(), kRecords);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(store->SweepExpired(Now()), static_cast<size_t>(kRecords / 2));
  EXPECT_EQ(store->Size(), static_cast<size_t>(kRecords / 2 + 1));
  for (int i = 1; i < kRecords; i += 2) {
    ASSERT_EQ(SyncGet(*store, "key" + std::to_string(i), Now()).status, Status::kOk) << i;
  }
  EXPECT_EQ(store->SweepExpired(Now()), 0u);
}

TEST_F(LmdbStoreTest, KeysAndValuesOutsideTheLimitsAreRefusedWithoutTouchingTheFile) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_key_bytes = 10;
  options.max_value_bytes = 20;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncPut(*store, "", "v", Now()).status, Status::kUnavailable);
  EXPECT_EQ(SyncPut(*store, std::string(11, 'k'), "v", Now()).status, Status::kUnavailable);
  EXPECT_EQ(SyncPut(*store, "k", std::string(21, 'v'), Now()).status, Status::kUnavailable);
  EXPECT_EQ(SyncPut(*store, std::string(10, 'k'), std::string(20, 'v'), Now()).status,
            Status::kOk);
  EXPECT_EQ(SyncGet(*store, "", Now()).status, Status::kNotFound);
  EXPECT_EQ(SyncGet(*store, std::string(600, 'k'), Now()).status, Status::kNotFound);
  EXPECT_EQ(SyncDelete(*store, "", Now()).status, Status::kNotFound);
  EXPECT_EQ(store->Size(), 1u);
}

TEST_F(LmdbStoreTest, TheListenerRunsAfterTheCommitAndBeforeTheCallback) {
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  std::vector<std::string> order;  // written by the writer thread only
  store->SetChangeListener([&](std::string_view key, uint64_t version) {
    order.push_back("listener " + std::string(key) + (version == 0 ? " deleted" : ""));
  });
  ASSERT_EQ(SyncPut(*store, "k", "v", Now()).status, Status::kOk);
  ASSERT_EQ(SyncDelete(*store, "k", Now()).status, Status::kOk);
  ASSERT_EQ(SyncDelete(*store, "k", Now()).status, Status::kNotFound);
  EXPECT_EQ(order, (std::vector<std::string>{"listener k", "listener k deleted"}));
}

TEST_F(LmdbStoreTest, ADamagedRecordIsNeitherServedNorOverwrittenNorSwept) {
  {
    auto store = OpenOrFail(OptionsIn(dir_));
    ASSERT_EQ(SyncPut(*store, "bad", "v", Now(), absl::Seconds(1)).status, Status::kOk);
    ASSERT_EQ(SyncPut(*store, "good", "v", Now()).status, Status::kOk);
  }
  {  // Damage the record as a torn write or bit rot would: an unknown record format.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 2), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.File("store.db").c_str(), MDB_NOSUBDIR, 0600), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi entries;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "entries", 0, &entries), 0);
    std::string garbage(60, '\x7f');
    MDB_val key{3, const_cast<char*>("bad")};
    MDB_val value{garbage.size(), garbage.data()};
    ASSERT_EQ(mdb_put(txn, entries, &key, &value, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto store = OpenOrFail(OptionsIn(dir_));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SyncGet(*store, "bad", Now()).status, Status::kUnavailable);
  EXPECT_EQ(SyncPut(*store, "bad", "new", Now()).status, Status::kUnavailable);
  EXPECT_EQ(SyncDelete(*store, "bad", Now()).status, Status::kUnavailable);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(store->SweepExpired(Now()), 0u);
  EXPECT_EQ(store->Size(), 2u);
  EXPECT_EQ(SyncGet(*store, "good", Now()).status, Status::kOk);
  EXPECT_EQ(SyncPut(*store, "good", "w", Now()).status, Status::kOk);
}

}  // namespace
}  // namespace rendezvous::kv

// MemoryStore: the Store contract suite, plus what only the memory engine promises (inline
// callbacks, purging expired entries of a shard when a new key arrives at capacity).
#include "kv/memory_store.h"

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

std::unique_ptr<Store> MakeMemoryStore(size_t max_entries) {
  return std::make_unique<MemoryStore>(
      MemoryStore::Options{.max_entries = max_entries, .limits = kContractLimits});
}

std::unique_ptr<Store> MakeSingleShardMemoryStore(size_t max_entries) {
  return std::make_unique<MemoryStore>(
      MemoryStore::Options{.max_entries = max_entries, .shards = 1, .limits = kContractLimits});
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreContractTest,
                         ::testing::Values(StoreFactory{"Sharded", MakeMemoryStore},
                                           StoreFactory{"OneShard", MakeSingleShardMemoryStore}),
                         StoreFactoryName);

class MemoryStoreTest : public ::testing::Test {
 protected:
  PutRequest MakePut(std::string_view key, std::string_view secret = "",
                     absl::Duration ttl = absl::Hours(1)) {
    PutRequest request;
    request.key = key;
    request.value = "v";
    request.secret = secret;
    request.now = clock_.Now();
    request.expires_at = clock_.Now() + ttl;
    return request;
  }

  // Writes synchronously: the memory engine completes inline.
  Status Put(MemoryStore& store, std::string_view key, absl::Duration ttl = absl::Hours(1)) {
    const PutRequest request = MakePut(key, "", ttl);
    Status status = Status::kUnavailable;
    store.Put(request, [&](const WriteResult& result) { status = result.status; });
    return status;
  }

  common::ManualClock clock_;
};

TEST_F(MemoryStoreTest, CallbacksRunBeforeTheCallReturns) {
  MemoryStore store({});
  bool put_done = false;
  const PutRequest put = MakePut("k");
  store.Put(put, [&](const WriteResult&) { put_done = true; });
  EXPECT_TRUE(put_done);
  bool get_done = false;
  store.Get("k", clock_.Now(), [&](const GetResult& r) { get_done = r.status == Status::kOk; });
  EXPECT_TRUE(get_done);
  bool delete_done = false;
  DeleteRequest del;
  del.key = "k";
  del.now = clock_.Now();
  store.Delete(del, [&](const WriteResult&) { delete_done = true; });
  EXPECT_TRUE(delete_done);
}

TEST_F(MemoryStoreTest, TheListenerRunsBeforeTheCompletionCallback) {
  MemoryStore store({});
  std::vector<std::string> order;
  store.SetChangeListener([&](std::string_view, uint64_t) { order.push_back("listener"); });
  const PutRequest put = MakePut("k");
  store.Put(put, [&](const WriteResult&) { order.push_back("done"); });
  EXPECT_EQ(order, (std::vector<std::string>{"listener", "done"}));
}

TEST_F(MemoryStoreTest, ACreatorAtItsQuotaPurgesTheExpiredEntriesOfItsShard) {
  MemoryStore store({.max_entries = 10, .shards = 1});
  auto put_as_alice = [&](std::string_view key, absl::Duration ttl) {
    PutRequest request = MakePut(key, "", ttl);
    request.creator[0] = 1;
    request.max_entries_per_creator = 2;
    Status status = Status::kUnavailable;
    store.Put(request, [&](const WriteResult& result) { status = result.status; });
    return status;
  };
  ASSERT_EQ(put_as_alice("a0", absl::Seconds(10)), Status::kOk);
  ASSERT_EQ(put_as_alice("a1", absl::Seconds(10)), Status::kOk);
  EXPECT_EQ(put_as_alice("a2", absl::Hours(1)), Status::kQuotaReached);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(put_as_alice("a2", absl::Hours(1)), Status::kOk);  // no SweepExpired needed
  EXPECT_EQ(put_as_alice("a3", absl::Hours(1)), Status::kOk);
  EXPECT_EQ(put_as_alice("a4", absl::Hours(1)), Status::kQuotaReached);
  EXPECT_EQ(store.Size(), 2u);
}

TEST_F(MemoryStoreTest, ANewKeyAtCapacityPurgesTheExpiredEntriesOfItsShard) {
  MemoryStore store({.max_entries = 3, .shards = 1});
  for (const char* key : {"a", "b", "c"})
    ASSERT_EQ(Put(store, key, absl::Seconds(10)), Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Put(store, "d"), Status::kOk);  // no SweepExpired needed
  EXPECT_EQ(store.Size(), 1u);
  EXPECT_EQ(store.SweepExpired(clock_.Now()), 0u);
  EXPECT_EQ(Put(store, "e"), Status::kOk);
  EXPECT_EQ(Put(store, "f"), Status::kOk);
  EXPECT_EQ(Put(store, "g"), Status::kCapacityReached);
}

TEST_F(MemoryStoreTest, APurgeAtCapacityKeepsLiveEntries) {
  MemoryStore store({.max_entries = 2, .shards = 1});
  ASSERT_EQ(Put(store, "short", absl::Seconds(10)), Status::kOk);
  ASSERT_EQ(Put(store, "long", absl::Hours(1)), Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Put(store, "new"), Status::kOk);
  EXPECT_EQ(Put(store, "newer"), Status::kCapacityReached);
  Status long_status = Status::kUnavailable;
  store.Get("long", clock_.Now(), [&](const GetResult& r) { long_status = r.status; });
  EXPECT_EQ(long_status, Status::kOk);
}

TEST_F(MemoryStoreTest, ZeroMaxEntriesRefusesEveryNewKey) {
  MemoryStore store({.max_entries = 0});
  EXPECT_EQ(Put(store, "k"), Status::kCapacityReached);
  EXPECT_EQ(store.Size(), 0u);
}

TEST_F(MemoryStoreTest, ZeroShardsIsTreatedAsOne) {
  MemoryStore store({.max_entries = 10, .shards = 0});
  EXPECT_EQ(Put(store, "k"), Status::kOk);
  EXPECT_EQ(store.Size(), 1u);
}

TEST_F(MemoryStoreTest, OwnersAreRecognisedThroughAnInjectedHasher) {
  secret::Key key;
  key.fill(42);
  MemoryStore store({}, secret::Hasher(key));
  PutRequest put = MakePut("k", "s3cret");
  Status first = Status::kUnavailable;
  store.Put(put, [&](const WriteResult& r) { first = r.status; });
  ASSERT_EQ(first, Status::kOk);
  put.secret = "wrong";
  Status second = Status::kUnavailable;
  store.Put(put, [&](const WriteResult& r) { second = r.status; });
  EXPECT_EQ(second, Status::kForbidden);
}

}  // namespace
}  // namespace rendezvous::kv

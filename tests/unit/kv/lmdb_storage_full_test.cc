// LmdbStore when the map is full: writes answer kStorageFull, reads keep working, one oversize
// write does not fail its neighbours, writes work again once there is room, and the map grows by
// itself up to its limit.
#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "kv/lmdb_store.h"
#include "lmdb_test_util.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

using testing::OpenOrFail;
using testing::OptionsIn;
using testing::SyncDelete;
using testing::SyncGet;
using testing::SyncPut;
using testing::TempDir;

constexpr size_t kMiB = size_t{1} << 20;

class LmdbStorageFullTest : public ::testing::Test {
 protected:
  absl::Time Now() const { return clock_.Now(); }

  // Puts `value` under key0, key1, ... until a put is refused; returns how many succeeded and
  // checks that the refusal is kStorageFull.
  int FillUntilFull(LmdbStore& store, const std::string& value, int at_most) {
    for (int i = 0; i < at_most; ++i) {
      const WriteResult result = SyncPut(store, "key" + std::to_string(i), value, Now());
      if (result.status != Status::kOk) {
        EXPECT_EQ(result.status, Status::kStorageFull);
        return i;
      }
    }
    ADD_FAILURE() << "the map never filled";
    return at_most;
  }

  TempDir dir_;
  common::ManualClock clock_;
};

TEST_F(LmdbStorageFullTest, AFullMapRefusesWritesKeepsReadsAndRecoversAfterDeletes) {
  LmdbStore::Options options = OptionsIn(dir_, 100000);
  options.max_map_bytes = 1 * kMiB;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  const std::string value(1000, 'v');
  const int written = FillUntilFull(*store, value, 5000);
  ASSERT_GT(written, 100);
  EXPECT_LE(store->map_bytes(), options.max_map_bytes);

  // The refused write left nothing behind, and every acknowledged value still reads back.
  EXPECT_EQ(SyncGet(*store, "key" + std::to_string(written), Now()).status, Status::kNotFound);
  for (int i = 0; i < written; ++i) {
    ASSERT_EQ(SyncGet(*store, "key" + std::to_string(i), Now()).value, value) << i;
  }

  // Deletes need few pages and free many: afterwards new writes fit again.
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(SyncDelete(*store, "key" + std::to_string(i), Now()).status, Status::kOk) << i;
  }
  EXPECT_EQ(SyncPut(*store, "another", value, Now()).status, Status::kOk);
  EXPECT_EQ(SyncGet(*store, "another", Now()).value, value);
}

TEST_F(LmdbStorageFullTest, AnOversizeWriteFailsAloneAndItsNeighboursSucceed) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_map_bytes = 2 * kMiB;
  options.max_value_bytes = 4 * kMiB;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  const std::string huge(3 * kMiB, 'h');
  // Hold the writer thread in the listener of a first write while the three are queued, so that
  // its next batch takes them together into one transaction.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  store->SetChangeListener([&entered, released](std::string_view key, uint64_t) {
    if (key != "blocker") return;
    entered.set_value();
    released.wait();
  });
  std::promise<WriteResult> blocker;
  {
    PutRequest request;
    request.key = "blocker";
    request.now = Now();
    request.expires_at = Now() + absl::Hours(1);
    store->Put(request, [&blocker](const WriteResult& r) { blocker.set_value(r); });
  }
  entered.get_future().wait();
  std::vector<std::string> keys = {"before", "huge", "after"};
  std::vector<std::promise<WriteResult>> promises(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    PutRequest request;
    request.key = keys[i];
    request.value = keys[i] == "huge" ? std::string_view(huge) : std::string_view("small");
    request.now = Now();
    request.expires_at = Now() + absl::Hours(1);
    store->Put(request, [&promises, i](const WriteResult& r) { promises[i].set_value(r); });
  }
  release.set_value();
  std::future<WriteResult> blocked = blocker.get_future();
  EXPECT_EQ(testing::AwaitResult(blocked, WriteResult{}).status, Status::kOk);
  std::vector<Status> statuses;
  for (auto& promise : promises) {
    std::future<WriteResult> future = promise.get_future();
    statuses.push_back(testing::AwaitResult(future, WriteResult{}).status);
  }
  EXPECT_EQ(statuses,
            (std::vector<Status>{Status::kOk, Status::kStorageFull, Status::kOk}));
  EXPECT_EQ(SyncGet(*store, "before", Now()).value, "small");
  EXPECT_EQ(SyncGet(*store, "after", Now()).value, "small");
  EXPECT_EQ(SyncGet(*store, "huge", Now()).status, Status::kNotFound);
}

TEST_F(LmdbStorageFullTest, TheMapGrowsUpToItsLimitAndALargerLimitMakesRoomAgain) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_map_bytes = 80 * kMiB;
  options.max_value_bytes = 1 * kMiB;
  const std::string value(1 * kMiB - 100, 'v');
  int written = 0;
  {
    auto store = OpenOrFail(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->map_bytes(), 64 * kMiB);
    written = FillUntilFull(*store, value, 200);
    EXPECT_GT(written, 64);  // more than the first map holds: it grew
    EXPECT_EQ(store->map_bytes(), options.max_map_bytes);
    EXPECT_EQ(SyncGet(*store, "key0", Now()).value, value);
  }
  options.max_map_bytes = 120 * kMiB;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), static_cast<size_t>(written));
  EXPECT_EQ(SyncPut(*store, "more", value, Now()).status, Status::kOk);
  EXPECT_EQ(SyncGet(*store, "key" + std::to_string(written - 1), Now()).value, value);
}

TEST_F(LmdbStorageFullTest, ReadersKeepSeeingWholeValuesWhileTheMapGrows) {
  LmdbStore::Options options = OptionsIn(dir_);
  options.max_map_bytes = 80 * kMiB;
  options.max_value_bytes = 1 * kMiB;
  auto store = OpenOrFail(options);
  ASSERT_NE(store, nullptr);
  const std::string value(1 * kMiB - 100, 'v');
  ASSERT_EQ(SyncPut(*store, "key0", value, Now()).status, Status::kOk);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        store->Get("key0", Now(), [&](const GetResult& result) {
          if (result.status != Status::kOk || result.entry.value != value) bad.fetch_add(1);
        });
        reads.fetch_add(1);
      }
    });
  }
  const size_t first_map = store->map_bytes();
  FillUntilFull(*store, value, 200);  // key0 is rewritten with the same bytes on the way
  stop.store(true);
  for (std::thread& reader : readers) reader.join();
  EXPECT_GT(store->map_bytes(), first_map);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace rendezvous::kv

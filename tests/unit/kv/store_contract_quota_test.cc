// Store contract, part 4: the per-creator key quota (PutRequest::creator and
// max_entries_per_creator), on every engine.
#include <algorithm>
#include <array>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "store_contract.h"

namespace rendezvous::kv {
namespace {

std::array<uint8_t, 16> CreatorNumber(uint8_t n) {
  std::array<uint8_t, 16> creator{};
  creator[0] = 203;
  creator[15] = n;
  return creator;
}

const std::array<uint8_t, 16> kAlice = CreatorNumber(1);
const std::array<uint8_t, 16> kBob = CreatorNumber(2);

TEST_P(StoreContractTest, ACreatorAtItsQuotaCannotCreateAnotherKey) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(PutAs(kAlice, 3, "a" + std::to_string(i)).status, Status::kOk);
  }
  EXPECT_EQ(PutAs(kAlice, 3, "a3").status, Status::kQuotaReached);
  EXPECT_EQ(Get("a3").status, Status::kNotFound);
  EXPECT_EQ(store().Size(), 3u);
}

TEST_P(StoreContractTest, AQuotaOfZeroMeansNoQuota) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(PutAs(kAlice, 0, "a" + std::to_string(i)).status, Status::kOk);
  }
}

TEST_P(StoreContractTest, UpdatesOfLiveKeysAreAllowedAtTheQuota) {
  ASSERT_EQ(PutAs(kAlice, 2, "a0").status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "a1").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a0", kTtl, "updated").status, Status::kOk);
  EXPECT_EQ(PutAs(kBob, 1, "a1", kTtl, "bob updates alice's key").status, Status::kOk);
  EXPECT_EQ(Get("a0").value, "updated");
  // Bob's update did not move a1 to Bob: he may still create one key of his own, Alice none.
  EXPECT_EQ(PutAs(kBob, 1, "b0").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a2").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, TwoCreatorsHaveIndependentQuotas) {
  ASSERT_EQ(PutAs(kAlice, 1, "a0").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 1, "a1").status, Status::kQuotaReached);
  EXPECT_EQ(PutAs(kBob, 1, "b0").status, Status::kOk);
  EXPECT_EQ(PutAs(kBob, 1, "b1").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, ADeleteGivesTheSlotBack) {
  ASSERT_EQ(PutAs(kAlice, 2, "a0").status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "a1").status, Status::kOk);
  ASSERT_EQ(Delete("a0").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a2").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a3").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, ExpiredKeysGiveTheirSlotsBackWhenSwept) {
  ASSERT_EQ(PutAs(kAlice, 2, "a0", absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "a1", absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 2u);
  EXPECT_EQ(PutAs(kAlice, 2, "a2").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a3").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "a4").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, ExpiredKeysNeverCountAgainstTheQuotaEvenBeforeASweep) {
  ASSERT_EQ(PutAs(kAlice, 2, "first", absl::Seconds(1)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "second", absl::Seconds(1)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "third").status, Status::kQuotaReached);
  clock_.Advance(absl::Milliseconds(1600));
  // No SweepExpired: both keys expired, so Alice holds no live key and may create two.
  EXPECT_EQ(PutAs(kAlice, 2, "third").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "fourth").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 2, "fifth").status, Status::kQuotaReached);
  EXPECT_EQ(Get("first").status, Status::kNotFound);
}

TEST_P(StoreContractTest, AQuotaPurgeRemovesOnlyTheCreatorsExpiredKeys) {
  ASSERT_EQ(PutAs(kAlice, 3, "alice-expires", absl::Seconds(1)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 3, "alice-lives-0").status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 3, "alice-lives-1").status, Status::kOk);
  ASSERT_EQ(PutAs(kBob, 3, "bob-expires", absl::Seconds(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(PutAs(kAlice, 3, "alice-new").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 3, "alice-too-many").status, Status::kQuotaReached);
  EXPECT_EQ(Get("alice-lives-0").status, Status::kOk);
  EXPECT_EQ(Get("alice-lives-1").status, Status::kOk);
  // Alice's expired key is gone; Bob's is still held until something needs its place.
  EXPECT_EQ(store().Size(), 4u);
}

TEST_P(StoreContractTest, AStoreFullOfExpiredEntriesAcceptsNewKeysWithoutASweep) {
  constexpr int kMax = 8;
  MakeStore(kMax);
  for (int i = 0; i < kMax; ++i) {
    ASSERT_EQ(Put("old" + std::to_string(i), "v", "", {}, absl::Seconds(1)).status, Status::kOk);
  }
  ASSERT_EQ(Put("refused", "v").status, Status::kCapacityReached);
  clock_.Advance(absl::Seconds(2));
  // Every entry expired: the store takes kMax new keys (whatever shard or order they land in),
  // then is full again.
  for (int i = 0; i < kMax; ++i) {
    EXPECT_EQ(Put("new" + std::to_string(i), "v").status, Status::kOk) << i;
  }
  EXPECT_EQ(Put("one-too-many", "v").status, Status::kCapacityReached);
  EXPECT_EQ(store().Size(), static_cast<size_t>(kMax));
}

TEST_P(StoreContractTest, ExpiredKeysOfACreatorAtItsQuotaAlsoFreeCapacity) {
  MakeStore(2);
  ASSERT_EQ(PutAs(kAlice, 2, "a0", absl::Seconds(1)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "a1", absl::Seconds(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(PutAs(kAlice, 2, "a2").status, Status::kOk);
  EXPECT_EQ(PutAs(kBob, 2, "b0").status, Status::kOk);
  EXPECT_EQ(PutAs(kBob, 2, "b1").status, Status::kCapacityReached);
}

TEST_P(StoreContractTest, ANewWriteOverAnExpiredKeyCountsOnlyOnce) {
  ASSERT_EQ(PutAs(kAlice, 2, "a0", absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 2, "a1").status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  // a0 expired: writing it again is a creation that replaces the old record's count.
  const WriteResult again = PutAs(kAlice, 2, "a0");
  ASSERT_EQ(again.status, Status::kOk);
  EXPECT_TRUE(again.created);
  EXPECT_EQ(PutAs(kAlice, 2, "a2").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, AnExpiredKeyRecreatedByAnotherCreatorMovesToThatCreator) {
  ASSERT_EQ(PutAs(kAlice, 1, "shared", absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  ASSERT_EQ(PutAs(kBob, 1, "shared").status, Status::kOk);
  EXPECT_EQ(PutAs(kAlice, 1, "a0").status, Status::kOk);
  EXPECT_EQ(PutAs(kBob, 1, "b0").status, Status::kQuotaReached);
}

TEST_P(StoreContractTest, TheOwnerAndPreconditionChecksComeBeforeTheQuota) {
  ASSERT_EQ(PutAs(kBob, 1, "owned").status, Status::kOk);
  ASSERT_EQ(Put("owned", "v", "secret").status, Status::kOk);
  ASSERT_EQ(PutAs(kAlice, 1, "a0").status, Status::kOk);
  PutRequest request;
  request.key = "owned";
  request.value = "v";
  request.secret = "wrong";
  request.now = clock_.Now();
  request.expires_at = request.now + kTtl;
  request.creator = kAlice;
  request.max_entries_per_creator = 1;
  EXPECT_EQ(Put(request).status, Status::kForbidden);
  request.key = "new";
  request.secret = "";
  request.precondition = IfExists();
  EXPECT_EQ(Put(request).status, Status::kPreconditionFailed);
}

TEST_P(StoreContractTest, ThreadsOfOneCreatorRacingPastItsQuotaCreateExactlyTheQuota) {
  constexpr uint32_t kQuota = 25;
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 10;
  std::vector<std::vector<Status>> statuses(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int k = 0; k < kKeysPerThread; ++k) {
        statuses[t].push_back(
            PutAs(kAlice, kQuota, "t" + std::to_string(t) + "k" + std::to_string(k)).status);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  size_t created = 0;
  size_t refused = 0;
  for (const auto& per_thread : statuses) {
    created += std::count(per_thread.begin(), per_thread.end(), Status::kOk);
    refused += std::count(per_thread.begin(), per_thread.end(), Status::kQuotaReached);
  }
  EXPECT_EQ(created, kQuota);
  EXPECT_EQ(refused, kThreads * kKeysPerThread - kQuota);
  EXPECT_EQ(store().Size(), kQuota);
  EXPECT_EQ(PutAs(kBob, kQuota, "bob").status, Status::kOk);
}

}  // namespace
}  // namespace rendezvous::kv

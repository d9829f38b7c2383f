// Store contract, part 2: capacity, preconditions, delete, sweeping and the change listener.
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store_contract.h"

namespace rendezvous::kv {
namespace {

std::string Key(int i) { return "key" + std::to_string(i); }

// --- Capacity -------------------------------------------------------------------------------

TEST_P(StoreContractTest, NewKeysBeyondMaxEntriesAreRefused) {
  MakeStore(3);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Put(Key(i), "v").status, Status::kOk);
  EXPECT_EQ(Put(Key(3), "v").status, Status::kCapacityReached);
  EXPECT_EQ(Put(Key(3), "v", "secret").status, Status::kCapacityReached);
  EXPECT_EQ(Get(Key(3)).status, Status::kNotFound);
  EXPECT_EQ(store().Size(), 3u);
}

TEST_P(StoreContractTest, UpdatesAndClaimsAreAllowedWhenFull) {
  MakeStore(2);
  const WriteResult first = Put(Key(0), "v");
  ASSERT_EQ(first.status, Status::kOk);
  ASSERT_EQ(Put(Key(1), "v").status, Status::kOk);
  EXPECT_EQ(Put(Key(0), "updated").status, Status::kOk);
  EXPECT_EQ(Put(Key(1), "claimed", "secret").status, Status::kOk);
  EXPECT_EQ(Put(Key(1), "again", "secret").status, Status::kOk);
  EXPECT_EQ(Get(Key(0)).value, "updated");
  EXPECT_EQ(Get(Key(1)).value, "again");
  EXPECT_EQ(store().Size(), 2u);
}

TEST_P(StoreContractTest, ADeleteFreesAPlaceForANewKey) {
  MakeStore(2);
  ASSERT_EQ(Put(Key(0), "v").status, Status::kOk);
  ASSERT_EQ(Put(Key(1), "v").status, Status::kOk);
  ASSERT_EQ(Delete(Key(0)).status, Status::kOk);
  EXPECT_EQ(Put(Key(2), "v").status, Status::kOk);
  EXPECT_EQ(Put(Key(3), "v").status, Status::kCapacityReached);
}

TEST_P(StoreContractTest, ExpiredEntriesDoNotCountAfterSweepExpired) {
  MakeStore(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Put(Key(i), "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  }
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 3u);
  for (int i = 10; i < 13; ++i) EXPECT_EQ(Put(Key(i), "v").status, Status::kOk);
  EXPECT_EQ(Put(Key(13), "v").status, Status::kCapacityReached);
}

TEST_P(StoreContractTest, APutOnAnExpiredKeyOfAFullStoreReusesItsPlace) {
  MakeStore(2);
  ASSERT_EQ(Put(Key(0), "old", "owner", {}, absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(Put(Key(1), "live", "", {}, absl::Hours(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  const WriteResult put = Put(Key(0), "new");
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_TRUE(put.created);
  EXPECT_EQ(Get(Key(0)).value, "new");
  EXPECT_EQ(Put(Key(2), "v").status, Status::kCapacityReached);
  EXPECT_EQ(store().Size(), 2u);
}

TEST_P(StoreContractTest, APreconditionFailureComesBeforeTheCapacityCheck) {
  MakeStore(1);
  ASSERT_EQ(Put(Key(0), "v").status, Status::kOk);
  EXPECT_EQ(Put(Key(1), "v", "", IfMatch(1)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Put(Key(1), "v", "", IfAbsent()).status, Status::kCapacityReached);
}

// --- Preconditions --------------------------------------------------------------------------

TEST_P(StoreContractTest, IfMatchWithTheCurrentVersionWrites) {
  const WriteResult put = Put("k", "v1");
  ASSERT_EQ(put.status, Status::kOk);
  const WriteResult updated = Put("k", "v2", "", IfMatch(put.version));
  ASSERT_EQ(updated.status, Status::kOk);
  EXPECT_NE(updated.version, put.version);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, IfMatchWithAnotherVersionFailsAndLeavesTheValue) {
  const WriteResult first = Put("k", "v1");
  ASSERT_EQ(first.status, Status::kOk);
  ASSERT_EQ(Put("k", "v2").status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "", IfMatch(first.version)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Put("k", "x", "", IfMatch(0)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, IfMatchOnAMissingKeyFailsAndCreatesNothing) {
  EXPECT_EQ(Put("k", "v", "", IfMatch(1)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
  EXPECT_EQ(store().Size(), 0u);
}

TEST_P(StoreContractTest, IfMatchOnAnExpiredKeyFails) {
  const WriteResult put = Put("k", "v", "", {}, absl::Seconds(10));
  ASSERT_EQ(put.status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Put("k", "x", "", IfMatch(put.version)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, IfAbsentCreatesAMissingKey) {
  const WriteResult put = Put("k", "v", "", IfAbsent());
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_TRUE(put.created);
  EXPECT_EQ(Get("k").value, "v");
}

TEST_P(StoreContractTest, IfAbsentOnALiveKeyFailsAndLeavesTheValue) {
  ASSERT_EQ(Put("k", "v1").status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "", IfAbsent()).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").value, "v1");
}

TEST_P(StoreContractTest, IfAbsentOnAnExpiredKeyCreatesIt) {
  ASSERT_EQ(Put("k", "old", "owner", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  const WriteResult put = Put("k", "new", "", IfAbsent());
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_TRUE(put.created);
  EXPECT_EQ(Get("k").value, "new");
}

TEST_P(StoreContractTest, IfExistsReplacesALiveKeyWhateverItsVersion) {
  ASSERT_EQ(Put("k", "v1").status, Status::kOk);
  const WriteResult put = Put("k", "v2", "", IfExists());
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_FALSE(put.created);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, IfExistsNeverCreatesAKey) {
  EXPECT_EQ(Put("k", "v", "", IfExists()).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
  ASSERT_EQ(Put("e", "old", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Put("e", "new", "", IfExists()).status, Status::kPreconditionFailed);
}

// --- Delete ---------------------------------------------------------------------------------

TEST_P(StoreContractTest, DeleteOfAMissingKeyIsNotFound) {
  EXPECT_EQ(Delete("missing").status, Status::kNotFound);
}

TEST_P(StoreContractTest, DeleteRemovesTheEntry) {
  ASSERT_EQ(Put("k", "v").status, Status::kOk);
  ASSERT_EQ(Put("other", "v").status, Status::kOk);
  EXPECT_EQ(Delete("k").status, Status::kOk);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
  EXPECT_EQ(Delete("k").status, Status::kNotFound);
  EXPECT_EQ(Get("other").value, "v");
  EXPECT_EQ(store().Size(), 1u);
}

TEST_P(StoreContractTest, DeleteOfAnExpiredKeyIsNotFound) {
  ASSERT_EQ(Put("k", "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Delete("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, DeleteOfAnOwnedKeyNeedsItsSecret) {
  ASSERT_EQ(Put("k", "v", "s3cret").status, Status::kOk);
  EXPECT_EQ(Delete("k").status, Status::kForbidden);
  EXPECT_EQ(Delete("k", "wrong").status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "v");
  EXPECT_EQ(Delete("k", "s3cret").status, Status::kOk);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, AKeyCreatedAgainAfterADeleteIsUnowned) {
  ASSERT_EQ(Put("k", "v", "s3cret").status, Status::kOk);
  ASSERT_EQ(Delete("k", "s3cret").status, Status::kOk);
  ASSERT_EQ(Put("k", "v2").status, Status::kOk);
  EXPECT_EQ(Put("k", "v3", "newcomer").status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "s3cret").status, Status::kForbidden);
}

TEST_P(StoreContractTest, DeleteHonoursIfMatch) {
  const WriteResult first = Put("k", "v1");
  ASSERT_EQ(first.status, Status::kOk);
  const WriteResult second = Put("k", "v2");
  ASSERT_EQ(second.status, Status::kOk);
  EXPECT_EQ(Delete("k", "", IfMatch(first.version)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").value, "v2");
  EXPECT_EQ(Delete("k", "", IfMatch(second.version)).status, Status::kOk);
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, DeleteWithIfMatchOfAMissingKeyFailsThePrecondition) {
  EXPECT_EQ(Delete("missing", "", IfMatch(1)).status, Status::kPreconditionFailed);
}

TEST_P(StoreContractTest, DeleteWithIfExistsOfAMissingKeyFailsThePrecondition) {
  EXPECT_EQ(Delete("missing", "", IfExists()).status, Status::kPreconditionFailed);
  ASSERT_EQ(Put("k", "v").status, Status::kOk);
  EXPECT_EQ(Delete("k", "", IfExists()).status, Status::kOk);
}

TEST_P(StoreContractTest, DeleteWithIfAbsentOfALiveKeyFailsThePrecondition) {
  ASSERT_EQ(Put("k", "v").status, Status::kOk);
  EXPECT_EQ(Delete("k", "", IfAbsent()).status, Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").value, "v");
}

// --- Sweeping, size and flush ---------------------------------------------------------------

TEST_P(StoreContractTest, SweepExpiredRemovesOnlyExpiredEntriesAndCountsThem) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Put(Key(i), "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  }
  for (int i = 3; i < 5; ++i) {
    ASSERT_EQ(Put(Key(i), "v", "", {}, absl::Hours(1)).status, Status::kOk);
  }
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 0u);
  clock_.Advance(absl::Seconds(10));  // exactly at the first three expiries
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 3u);
  EXPECT_EQ(store().Size(), 2u);
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 0u);
  for (int i = 3; i < 5; ++i) EXPECT_EQ(Get(Key(i)).status, Status::kOk);
}

TEST_P(StoreContractTest, SweepExpiredOfAnEmptyStoreRemovesNothing) {
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 0u);
  EXPECT_EQ(store().Size(), 0u);
}

TEST_P(StoreContractTest, SweepExpiredKeepsAnEntryWhoseExpiryWasRefreshed) {
  ASSERT_EQ(Put("k", "v1", "", {}, absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(Put("k", "v2", "", {}, absl::Hours(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 0u);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, SizeCountsExpiredEntriesUntilTheyAreSwept) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Put(Key(i), "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  }
  EXPECT_EQ(store().Size(), 3u);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(store().Size(), 3u);
  EXPECT_EQ(store().SweepExpired(clock_.Now()), 3u);
  EXPECT_EQ(store().Size(), 0u);
}

TEST_P(StoreContractTest, FlushSucceeds) {
  ASSERT_EQ(Put("k", "v").status, Status::kOk);
  EXPECT_EQ(store().Flush(), Status::kOk);
  EXPECT_EQ(Get("k").value, "v");
}

// --- Change listener ------------------------------------------------------------------------

// Collects listener calls, which may arrive on an engine's own thread.
class ChangeLog {
 public:
  ChangeListener Listener() {
    return [this](std::string_view key, uint64_t version) {
      std::lock_guard<std::mutex> lock(mu_);
      changes_.emplace_back(std::string(key), version);
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `n` changes were seen, then returns all of them.
  std::vector<std::pair<std::string, uint64_t>> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return changes_.size() >= n; });
    return changes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, uint64_t>> changes_;
};

TEST_P(StoreContractTest, TheChangeListenerSeesEverySuccessfulWriteAndNoFailedOne) {
  ChangeLog log;
  store().SetChangeListener(log.Listener());
  const WriteResult a = Put("a", "1");
  const WriteResult b = Put("b", "2", "s3cret");
  ASSERT_EQ(Put("b", "x", "wrong").status, Status::kForbidden);
  ASSERT_EQ(Put("a", "x", "", IfMatch(a.version + 1000)).status, Status::kPreconditionFailed);
  ASSERT_EQ(Delete("missing").status, Status::kNotFound);
  ASSERT_EQ(Delete("a").status, Status::kOk);
  // The last write fences the failed ones: an engine that reported them would have done so by now.
  const WriteResult c = Put("c", "3");
  using Change = std::pair<std::string, uint64_t>;
  const std::vector<Change> expected = {
      {"a", a.version}, {"b", b.version}, {"a", 0}, {"c", c.version}};
  EXPECT_EQ(log.WaitFor(expected.size()), expected);
}

// Every engine applies the same input limits (store.h), here kContractLimits.
TEST_P(StoreContractTest, InputBeyondTheLimitsIsRefusedAlikeByEveryEngine) {
  const std::string long_key(kContractLimits.max_key_bytes + 1, 'k');
  const std::string longest_key(kContractLimits.max_key_bytes, 'k');
  EXPECT_EQ(Put("", "v").status, Status::kUnavailable);
  EXPECT_EQ(Put(long_key, "v").status, Status::kUnavailable);
  EXPECT_EQ(Put("k", std::string(kContractLimits.max_value_bytes + 1, 'v')).status,
            Status::kUnavailable);
  EXPECT_EQ(store().Size(), 0u);
  EXPECT_EQ(Put(longest_key, std::string(kContractLimits.max_value_bytes, 'v')).status,
            Status::kOk);
  EXPECT_EQ(Get(longest_key).status, Status::kOk);
  EXPECT_EQ(Get(long_key).status, Status::kNotFound);
  EXPECT_EQ(Get("").status, Status::kNotFound);
  EXPECT_EQ(Delete(long_key).status, Status::kNotFound);
  EXPECT_EQ(Delete(long_key, "", IfExists()).status, Status::kPreconditionFailed);
  EXPECT_EQ(Delete(long_key, "", IfMatch(1)).status, Status::kPreconditionFailed);
  EXPECT_EQ(Delete("").status, Status::kNotFound);
}

}  // namespace
}  // namespace rendezvous::kv

// Store contract, signed records: Precondition::kSignedRecordNewer, the "newer timestamp" rule of
// /pk/ keys, evaluated by the store atomically with the write. The store never verifies
// signatures (the HTTP layer has done that), so the records here carry a filler signature.
#include <algorithm>
#include <cstdint>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "store_contract.h"

namespace rendezvous::kv {
namespace {

constexpr Precondition kNewer{Precondition::Kind::kSignedRecordNewer, 0};

// signature (64 filler bytes) ‖ timestamp (8 bytes, big-endian) ‖ v.
std::string Record(uint64_t timestamp_us, std::string_view v, char filler = 's') {
  std::string record(64, filler);
  for (int shift = 56; shift >= 0; shift -= 8) {
    record.push_back(static_cast<char>((timestamp_us >> shift) & 0xff));
  }
  record.append(v);
  return record;
}

TEST_P(StoreContractTest, SignedRecordIsStoredWhenTheKeyIsFree) {
  const std::string record = Record(1000, "first");
  const WriteResult result = Put("pk/a", record, "", kNewer);
  EXPECT_EQ(result.status, Status::kOk);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(Get("pk/a").value, record);
}

TEST_P(StoreContractTest, NewerSignedRecordReplacesTheStoredOne) {
  ASSERT_EQ(Put("pk/a", Record(1000, "old"), "", kNewer).status, Status::kOk);
  const std::string newer = Record(1001, "new");
  const WriteResult result = Put("pk/a", newer, "", kNewer);
  EXPECT_EQ(result.status, Status::kOk);
  EXPECT_FALSE(result.created);
  EXPECT_EQ(Get("pk/a").value, newer);
}

TEST_P(StoreContractTest, OlderSignedRecordIsAConflictAndChangesNothing) {
  const std::string stored = Record(1000, "stored");
  const WriteResult first = Put("pk/a", stored, "", kNewer, absl::Minutes(5));
  ASSERT_EQ(first.status, Status::kOk);
  EXPECT_EQ(Put("pk/a", Record(999, "older"), "", kNewer, absl::Hours(1)).status,
            Status::kConflict);
  const GetOutcome after = Get("pk/a");
  EXPECT_EQ(after.value, stored);
  EXPECT_EQ(after.version, first.version);
  EXPECT_EQ(after.expires_at, first.expires_at);
}

TEST_P(StoreContractTest, SameTimestampWithOtherBytesIsAConflict) {
  const std::string stored = Record(1000, "stored");
  ASSERT_EQ(Put("pk/a", stored, "", kNewer).status, Status::kOk);
  EXPECT_EQ(Put("pk/a", Record(1000, "other"), "", kNewer).status, Status::kConflict);
  EXPECT_EQ(Put("pk/a", Record(1000, "stored", 't'), "", kNewer).status, Status::kConflict);
  EXPECT_EQ(Get("pk/a").value, stored);
}

TEST_P(StoreContractTest, SameSignedRecordAgainRefreshesTheExpiry) {
  const std::string stored = Record(1000, "stored");
  const WriteResult first = Put("pk/a", stored, "", kNewer, absl::Minutes(5));
  ASSERT_EQ(first.status, Status::kOk);
  const WriteResult again = Put("pk/a", stored, "", kNewer, absl::Hours(1));
  EXPECT_EQ(again.status, Status::kOk);
  EXPECT_FALSE(again.created);
  EXPECT_GT(again.expires_at, first.expires_at);
  EXPECT_EQ(Get("pk/a").expires_at, again.expires_at);
}

TEST_P(StoreContractTest, AnExpiredSignedRecordDoesNotBlockAnOlderOne) {
  ASSERT_EQ(Put("pk/a", Record(1000, "gone"), "", kNewer, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  const std::string older = Record(5, "older");
  const WriteResult result = Put("pk/a", older, "", kNewer);
  EXPECT_EQ(result.status, Status::kOk);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(Get("pk/a").value, older);
}

TEST_P(StoreContractTest, SignedRecordReplacesAPlainValueThatIsNoRecord) {
  // Data written before signed keys existed may hold any value under "pk/...".
  ASSERT_EQ(Put("pk/a", "plain").status, Status::kOk);
  EXPECT_EQ(Put("pk/a", Record(1, "v"), "", kNewer).status, Status::kOk);
}

TEST_P(StoreContractTest, DeleteWithTheSignedRecordConditionIsRefused) {
  ASSERT_EQ(Put("pk/a", Record(1, "v"), "", kNewer).status, Status::kOk);
  DeleteRequest remove;
  remove.key = "pk/a";
  remove.now = clock_.Now();
  remove.precondition = kNewer;
  EXPECT_EQ(Delete(remove).status, Status::kPreconditionFailed);
}

TEST_P(StoreContractTest, RacingSignedRecordsLeaveTheNewestStored) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    const std::string key = "pk/race" + std::to_string(round);
    // Thread i writes the record with timestamp 100 + i; the order in which they land varies.
    std::vector<Status> statuses(kThreads, Status::kUnavailable);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        statuses[i] = Put(key, Record(100 + i, "v" + std::to_string(i)), "", kNewer).status;
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(Get(key).value, Record(100 + kThreads - 1, "v" + std::to_string(kThreads - 1)));
    // The newest can never be refused; the others are stored or refused, nothing else.
    EXPECT_EQ(statuses[kThreads - 1], Status::kOk);
    EXPECT_TRUE(std::all_of(statuses.begin(), statuses.end(), [](Status s) {
      return s == Status::kOk || s == Status::kConflict;
    }));
    EXPECT_EQ(Put(key, Record(100, "v0"), "", kNewer).status, Status::kConflict);
  }
}

}  // namespace
}  // namespace rendezvous::kv

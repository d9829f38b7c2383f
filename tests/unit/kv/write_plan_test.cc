// The write planner on its own: what it decides from "what is stored" and "what is asked", with
// no engine involved.
#include "kv/write_plan.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace rendezvous::kv {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);

Creator CreatorNumber(uint8_t n) {
  Creator creator{};
  creator[15] = n;
  return creator;
}

PutRequest PutBy(uint8_t creator) {
  PutRequest request;
  request.key = "k";
  request.now = kNow;
  request.expires_at = kNow + absl::Hours(1);
  request.creator = CreatorNumber(creator);
  request.max_entries_per_creator = 2;
  return request;
}

FoundRecord Stored(absl::Time expires_at, uint8_t creator) {
  FoundRecord found;
  found.version = 7;
  found.expires_at = expires_at;
  found.creator = CreatorNumber(creator);
  return found;
}

TEST(WritePlanTest, APutOverAnExpiredRecordRemovesItAndCreatesAnEntryForTheNewCreator) {
  const FoundRecord found = Stored(kNow, 1);  // expires_at == now: expired
  const WritePlan plan = PlanPut(&found, PutBy(2), nullptr);
  EXPECT_EQ(plan.status, Status::kOk);
  EXPECT_TRUE(plan.remove_found);
  EXPECT_TRUE(plan.creates);
  EXPECT_EQ(plan.record.creator, CreatorNumber(2));
  EXPECT_FALSE(plan.record.owned);
}

TEST(WritePlanTest, AnUpdateKeepsTheCreatorAndAClaimTakesAnUnownedRecord) {
  const FoundRecord found = Stored(kNow + absl::Seconds(1), 1);
  const secret::Digest digest{1, 2, 3};
  const WritePlan plan = PlanPut(&found, PutBy(2), &digest);
  EXPECT_EQ(plan.status, Status::kOk);
  EXPECT_FALSE(plan.remove_found);
  EXPECT_FALSE(plan.creates);
  EXPECT_EQ(plan.record.creator, CreatorNumber(1));
  EXPECT_TRUE(plan.record.owned);
  EXPECT_EQ(plan.record.owner, digest);
  EXPECT_EQ(plan.record.expires_at, kNow + absl::Hours(1));
}

TEST(WritePlanTest, ARefusedPutStillRemovesTheExpiredRecord) {
  const FoundRecord found = Stored(kNow - absl::Seconds(1), 1);
  PutRequest request = PutBy(1);
  request.precondition = {Precondition::Kind::kIfExists, 0};
  const WritePlan plan = PlanPut(&found, request, nullptr);
  EXPECT_EQ(plan.status, Status::kPreconditionFailed);
  EXPECT_TRUE(plan.remove_found);
  EXPECT_FALSE(plan.creates);
}

// signature (64 filler bytes) ‖ timestamp (big-endian) ‖ v: the planner reads the timestamp.
std::string SignedRecord(uint64_t timestamp_us, std::string_view v) {
  std::string record(64, 's');
  for (int shift = 56; shift >= 0; shift -= 8) {
    record.push_back(static_cast<char>((timestamp_us >> shift) & 0xff));
  }
  return record.append(v);
}

TEST(WritePlanTest, TheSignedRecordRuleComparesTheStoredValue) {
  const std::string stored = SignedRecord(100, "stored");
  FoundRecord found = Stored(kNow + absl::Hours(1), 1);
  found.value = stored;
  PutRequest request = PutBy(1);
  request.precondition.kind = Precondition::Kind::kSignedRecordNewer;
  const std::string older = SignedRecord(99, "older");
  const std::string same_time = SignedRecord(100, "other");
  const std::string newer = SignedRecord(101, "newer");
  request.value = older;
  EXPECT_EQ(PlanPut(&found, request, nullptr).status, Status::kConflict);
  request.value = same_time;
  EXPECT_EQ(PlanPut(&found, request, nullptr).status, Status::kConflict);
  request.value = stored;
  WritePlan plan = PlanPut(&found, request, nullptr);
  EXPECT_EQ(plan.status, Status::kOk);
  EXPECT_FALSE(plan.creates);
  request.value = newer;
  EXPECT_EQ(PlanPut(&found, request, nullptr).status, Status::kOk);
  // Expired: the old record no longer counts, whatever its timestamp.
  found.expires_at = kNow;
  request.value = older;
  plan = PlanPut(&found, request, nullptr);
  EXPECT_EQ(plan.status, Status::kOk);
  EXPECT_TRUE(plan.remove_found);
  EXPECT_TRUE(plan.creates);
}

TEST(WritePlanTest, TheOwnerCheckComesFirst) {
  FoundRecord found = Stored(kNow + absl::Hours(1), 1);
  found.owned = true;
  found.owner = secret::Digest{9};
  PutRequest request = PutBy(1);
  request.precondition = {Precondition::Kind::kIfMatch, 8};
  EXPECT_EQ(PlanPut(&found, request, nullptr).status, Status::kForbidden);
  DeleteRequest remove;
  remove.now = kNow;
  remove.precondition = {Precondition::Kind::kIfMatch, 8};
  const WritePlan plan = PlanDelete(&found, remove, nullptr);
  EXPECT_EQ(plan.status, Status::kForbidden);
  EXPECT_FALSE(plan.remove_found);
}

TEST(WritePlanTest, ADeleteOfNothingIsNotFoundUnlessAPreconditionNeedsAnEntry) {
  DeleteRequest remove;
  remove.now = kNow;
  EXPECT_EQ(PlanDelete(nullptr, remove, nullptr).status, Status::kNotFound);
  remove.precondition = {Precondition::Kind::kIfExists, 0};
  EXPECT_EQ(PlanDelete(nullptr, remove, nullptr).status, Status::kPreconditionFailed);
}

TEST(WritePlanTest, AdmissionChecksTheQuotaBeforeTheCapacity) {
  EXPECT_EQ(AdmitCreation(2, 2, 10, 10), Status::kQuotaReached);
  EXPECT_EQ(AdmitCreation(1, 2, 10, 10), Status::kCapacityReached);
  EXPECT_EQ(AdmitCreation(1000, 0, 9, 10), Status::kOk);  // quota 0: none
  EXPECT_EQ(AdmitCreation(0, 2, 0, 0), Status::kCapacityReached);
}

TEST(WritePlanTest, KeysAreOneToMaxBytesAndValuesAtMostMaxBytes) {
  const InputLimits limits{.max_key_bytes = 3, .max_value_bytes = 2};
  EXPECT_FALSE(ValidKey("", limits));
  EXPECT_TRUE(ValidKey("abc", limits));
  EXPECT_FALSE(ValidKey("abcd", limits));
  EXPECT_TRUE(ValidValue("", limits));
  EXPECT_FALSE(ValidValue("abc", limits));
}

}  // namespace
}  // namespace rendezvous::kv

// Store contract, part 1: values, versions, expiry and the owner rules. Every engine runs these
// through its own INSTANTIATE_TEST_SUITE_P (see store_contract.h).
#include "store_contract.h"

#include <set>
#include <string>
#include <vector>

namespace rendezvous::kv {
namespace {

std::string AllByteValues() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  return bytes;
}

std::string PseudoRandomBytes(size_t n) {
  std::string bytes;
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    bytes.push_back(static_cast<char>(x & 0xff));
  }
  return bytes;
}

// --- Values ---------------------------------------------------------------------------------

TEST_P(StoreContractTest, GetOfAMissingKeyIsNotFound) {
  EXPECT_EQ(Get("missing").status, Status::kNotFound);
}

TEST_P(StoreContractTest, PutThenGetReturnsTheExactBytes) {
  const std::vector<std::string> values = {
      "hello",
      "",
      std::string("a\0b", 3),
      std::string(1, '\0'),
      "line\r\nbreak\n",
      AllByteValues(),
      std::string(1000, 'x'),
      PseudoRandomBytes(1000),
  };
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "value #" << i);
    const std::string key = "key" + std::to_string(i);
    ASSERT_EQ(Put(key, values[i]).status, Status::kOk);
    const GetOutcome got = Get(key);
    ASSERT_EQ(got.status, Status::kOk);
    EXPECT_EQ(got.value, values[i]);
  }
}

TEST_P(StoreContractTest, AnEmptyValueIsAHitNotAMiss) {
  ASSERT_EQ(Put("empty", "").status, Status::kOk);
  const GetOutcome got = Get("empty");
  EXPECT_EQ(got.status, Status::kOk);
  EXPECT_EQ(got.value, "");
}

TEST_P(StoreContractTest, KeysWithNulNewlineAndHighBytesAreDistinctKeys) {
  const std::vector<std::string> keys = {
      "k",
      std::string("k\0", 2),
      std::string("k\0x", 3),
      "k\n",
      "k\r\n",
      "k\xff",
      "\xff",
      std::string(1, '\0'),
      "K",
      "k/",
      "ip/127.0.0.1/k",
      std::string(100, 'k'),
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(Put(keys[i], "value" + std::to_string(i)).status, Status::kOk) << "key #" << i;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const GetOutcome got = Get(keys[i]);
    ASSERT_EQ(got.status, Status::kOk) << "key #" << i;
    EXPECT_EQ(got.value, "value" + std::to_string(i)) << "key #" << i;
  }
  EXPECT_EQ(Get("k\r").status, Status::kNotFound);
  EXPECT_EQ(Get(std::string("k\0y", 3)).status, Status::kNotFound);
}

TEST_P(StoreContractTest, AnUpdateReplacesTheWholeValue) {
  ASSERT_EQ(Put("k", "a much longer first value").status, Status::kOk);
  ASSERT_EQ(Put("k", "s").status, Status::kOk);
  EXPECT_EQ(Get("k").value, "s");
  ASSERT_EQ(Put("k", "").status, Status::kOk);
  EXPECT_EQ(Get("k").value, "");
}

TEST_P(StoreContractTest, PutReportsCreatedForANewKeyOnly) {
  const WriteResult first = Put("k", "v1");
  ASSERT_EQ(first.status, Status::kOk);
  EXPECT_TRUE(first.created);
  const WriteResult second = Put("k", "v2");
  ASSERT_EQ(second.status, Status::kOk);
  EXPECT_FALSE(second.created);
}

// --- Versions -------------------------------------------------------------------------------

TEST_P(StoreContractTest, VersionChangesOnEveryWriteAndIsNeverZero) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 20; ++i) {
    const WriteResult put = Put("k", "v" + std::to_string(i));
    ASSERT_EQ(put.status, Status::kOk);
    EXPECT_NE(put.version, 0u);
    EXPECT_TRUE(seen.insert(put.version).second) << "version " << put.version << " repeated";
    EXPECT_EQ(Get("k").version, put.version);
  }
  // A key deleted and created again must not reuse an old version: a client holding the old one
  // would otherwise pass If-Match against different content.
  ASSERT_EQ(Delete("k").status, Status::kOk);
  const WriteResult recreated = Put("k", "again");
  ASSERT_EQ(recreated.status, Status::kOk);
  EXPECT_NE(recreated.version, 0u);
  EXPECT_FALSE(seen.count(recreated.version)) << "version " << recreated.version << " reused";
}

TEST_P(StoreContractTest, VersionsOfDifferentKeysAreNeverZero) {
  for (int i = 0; i < 10; ++i) {
    const WriteResult put = Put("key" + std::to_string(i), "v");
    ASSERT_EQ(put.status, Status::kOk);
    EXPECT_NE(put.version, 0u);
  }
}

TEST_P(StoreContractTest, AFailedWriteLeavesTheVersion) {
  const WriteResult put = Put("k", "v", "s3cret");
  ASSERT_EQ(put.status, Status::kOk);
  ASSERT_EQ(Put("k", "w", "wrong").status, Status::kForbidden);
  ASSERT_EQ(Put("k", "w", "s3cret", IfMatch(put.version + 1000)).status,
            Status::kPreconditionFailed);
  EXPECT_EQ(Get("k").version, put.version);
}

TEST_P(StoreContractTest, GetReturnsTheVersionAndExpiryOfTheLastWrite) {
  const WriteResult put = Put("k", "v", "", {}, absl::Minutes(5));
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_EQ(put.expires_at, clock_.Now() + absl::Minutes(5));
  const GetOutcome got = Get("k");
  EXPECT_EQ(got.version, put.version);
  EXPECT_EQ(got.expires_at, put.expires_at);
}

// --- Expiry ---------------------------------------------------------------------------------

TEST_P(StoreContractTest, AnEntryIsServedUntilJustBeforeItsExpiry) {
  ASSERT_EQ(Put("k", "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10) - absl::Nanoseconds(1));
  EXPECT_EQ(Get("k").status, Status::kOk);
}

TEST_P(StoreContractTest, AnEntryIsNeverServedAtOrAfterItsExpiry) {
  ASSERT_EQ(Put("k", "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Get("k").status, Status::kNotFound);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, EveryWriteRefreshesTheExpiry) {
  ASSERT_EQ(Put("k", "v1", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(6));
  ASSERT_EQ(Put("k", "v2", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(Get("k").value, "v2");
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, AGetDoesNotRefreshTheExpiry) {
  ASSERT_EQ(Put("k", "v", "", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(5));
  ASSERT_EQ(Get("k").status, Status::kOk);
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(Get("k").status, Status::kNotFound);
}

TEST_P(StoreContractTest, APutOnAnExpiredEntryCreatesItAndReleasesOwnership) {
  ASSERT_EQ(Put("k", "old", "owner", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  const WriteResult put = Put("k", "new");  // no secret: the old owner's claim died with the entry
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_TRUE(put.created);
  EXPECT_EQ(Get("k").value, "new");
  // Unowned now: anyone may claim it, and the old owner is then locked out.
  ASSERT_EQ(Put("k", "claimed", "newcomer").status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "owner").status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "claimed");
}

TEST_P(StoreContractTest, APutWithASecretOnAnExpiredOwnedEntryClaimsIt) {
  ASSERT_EQ(Put("k", "old", "owner", {}, absl::Seconds(10)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));
  const WriteResult put = Put("k", "new", "newcomer");
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_TRUE(put.created);
  EXPECT_EQ(Put("k", "x", "owner").status, Status::kForbidden);
  EXPECT_EQ(Put("k", "y", "newcomer").status, Status::kOk);
  EXPECT_EQ(Get("k").value, "y");
}

// --- Owner rules ----------------------------------------------------------------------------

TEST_P(StoreContractTest, ASecretSentOnCreationClaimsTheKey) {
  ASSERT_EQ(Put("k", "v1", "s3cret").status, Status::kOk);
  ASSERT_EQ(Put("k", "v2", "s3cret").status, Status::kOk);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, AWrongSecretIsForbiddenAndLeavesTheValueUnchanged) {
  ASSERT_EQ(Put("k", "v1", "s3cret").status, Status::kOk);
  EXPECT_EQ(Put("k", "v2", "wrong").status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "v1");
}

TEST_P(StoreContractTest, NoSecretOnAnOwnedKeyIsForbidden) {
  ASSERT_EQ(Put("k", "v1", "s3cret").status, Status::kOk);
  EXPECT_EQ(Put("k", "v2").status, Status::kForbidden);
  EXPECT_EQ(Put("k", "v2", "").status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "v1");
}

TEST_P(StoreContractTest, OwnerSecretsAreComparedByteForByte) {
  ASSERT_EQ(Put("k", "v1", std::string("s3\0cret", 7)).status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "s3").status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x", std::string("s3\0cret ", 8)).status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x", std::string("S3\0cret", 7)).status, Status::kForbidden);
  EXPECT_EQ(Put("k", "v2", std::string("s3\0cret", 7)).status, Status::kOk);
  EXPECT_EQ(Get("k").value, "v2");
}

TEST_P(StoreContractTest, AnUnownedKeyIsClaimedByTheFirstSecretSent) {
  ASSERT_EQ(Put("k", "v1").status, Status::kOk);
  ASSERT_EQ(Put("k", "v2").status, Status::kOk);  // still unowned: no secret, no claim
  ASSERT_EQ(Put("k", "v3", "claim").status, Status::kOk);
  EXPECT_EQ(Put("k", "x").status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x", "other").status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "v3");
  EXPECT_EQ(Put("k", "v4", "claim").status, Status::kOk);
  EXPECT_EQ(Get("k").value, "v4");
}

TEST_P(StoreContractTest, TheRightSecretKeepsTheOwnerInPlace) {
  ASSERT_EQ(Put("k", "v1", "s3cret").status, Status::kOk);
  ASSERT_EQ(Put("k", "v2", "s3cret").status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "other").status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x").status, Status::kForbidden);
}

TEST_P(StoreContractTest, TheOwnerCheckComesBeforeThePreconditions) {
  const WriteResult put = Put("k", "v1", "s3cret");
  ASSERT_EQ(put.status, Status::kOk);
  EXPECT_EQ(Put("k", "x", "wrong", IfAbsent()).status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x", "wrong", IfMatch(put.version + 1)).status, Status::kForbidden);
  EXPECT_EQ(Put("k", "x", "wrong", IfMatch(put.version)).status, Status::kForbidden);
  EXPECT_EQ(Delete("k", "wrong", IfMatch(put.version + 1)).status, Status::kForbidden);
  EXPECT_EQ(Get("k").value, "v1");
}

}  // namespace
}  // namespace rendezvous::kv

// Store contract, part 6: listings of announcements (Store::List, announcement.h), on every engine.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kv/announcement.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

std::set<std::string> Addresses(const ListResult& result) {
  std::set<std::string> addresses;
  for (const ListedPeer& peer : result.peers) addresses.insert(peer.address);
  return addresses;
}

std::string Peer(int n) { return "10.0.0." + std::to_string(n); }

TEST_P(StoreContractTest, AnUnknownNameListsNobody) {
  const ListResult result = List("nobody");
  EXPECT_EQ(result.status, Status::kOk);
  EXPECT_EQ(result.total, 0u);
  EXPECT_TRUE(result.peers.empty());
}

TEST_P(StoreContractTest, AListingHasEveryLiveAnnouncerWithItsValueVersionAndExpiry) {
  const WriteResult a = Put("ip/10.0.0.1/chat", "alpha");
  const WriteResult b = Put("ip/2001:db8::1/chat", "beta", "", {}, absl::Minutes(5));
  ASSERT_EQ(Put("ip/10.0.0.3/other", "x").status, Status::kOk);
  const ListResult result = List("chat");
  ASSERT_EQ(result.status, Status::kOk);
  EXPECT_EQ(result.total, 2u);
  ASSERT_EQ(result.peers.size(), 2u);
  EXPECT_EQ(result.peers[0].address, "10.0.0.1");  // ascending address order
  EXPECT_EQ(result.peers[0].value, "alpha");
  EXPECT_EQ(result.peers[0].version, a.version);
  EXPECT_EQ(result.peers[0].expires_at, a.expires_at);
  EXPECT_EQ(result.peers[1].address, "2001:db8::1");
  EXPECT_EQ(result.peers[1].value, "beta");
  EXPECT_EQ(result.peers[1].version, b.version);
}

TEST_P(StoreContractTest, ANameWithSlashesIsEverythingAfterTheAddress) {
  ASSERT_EQ(Put("ip/10.0.0.1/a/b", "v").status, Status::kOk);
  EXPECT_EQ(List("a/b").total, 1u);
  EXPECT_EQ(List("a").total, 0u);
  EXPECT_EQ(List("b").total, 0u);
}

TEST_P(StoreContractTest, KeysThatAreNoAnnouncementsAreNeverListed) {
  ASSERT_EQ(Put("chat", "v").status, Status::kOk);
  ASSERT_EQ(Put("ip/chat", "v").status, Status::kOk);
  ASSERT_EQ(Put("ip/10.0.0.01/chat", "v").status, Status::kOk);        // not canonical
  ASSERT_EQ(Put("ip/::FFFF:10.0.0.1/chat", "v").status, Status::kOk);  // not canonical
  ASSERT_EQ(Put("ip/10.0.0.1/", "v").status, Status::kOk);             // no name
  ASSERT_EQ(Put("xip/10.0.0.1/chat", "v").status, Status::kOk);
  EXPECT_EQ(List("chat").total, 0u);
  EXPECT_EQ(List("").total, 0u);
}

TEST_P(StoreContractTest, ExpiredAnnouncersAreNeitherListedNorCounted) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "short", "", {}, absl::Seconds(10)).status, Status::kOk);
  ASSERT_EQ(Put("ip/10.0.0.2/chat", "long", "", {}, absl::Seconds(60)).status, Status::kOk);
  clock_.Advance(absl::Seconds(10));  // the first expires exactly now
  const ListResult result = List("chat");
  EXPECT_EQ(result.total, 1u);
  EXPECT_EQ(Addresses(result), std::set<std::string>{"10.0.0.2"});
  // And once swept, still not.
  store().SweepExpired(clock_.Now());
  EXPECT_EQ(List("chat").total, 1u);
  clock_.Advance(absl::Seconds(50));
  EXPECT_EQ(List("chat").total, 0u);
  EXPECT_TRUE(List("chat").peers.empty());
}

TEST_P(StoreContractTest, ADeleteRemovesTheAnnouncer) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "a").status, Status::kOk);
  ASSERT_EQ(Put("ip/10.0.0.2/chat", "b").status, Status::kOk);
  ASSERT_EQ(Delete("ip/10.0.0.1/chat").status, Status::kOk);
  const ListResult result = List("chat");
  EXPECT_EQ(result.total, 1u);
  EXPECT_EQ(Addresses(result), std::set<std::string>{"10.0.0.2"});
  ASSERT_EQ(Delete("ip/10.0.0.2/chat").status, Status::kOk);
  EXPECT_EQ(List("chat").total, 0u);
}

TEST_P(StoreContractTest, AnOverwriteKeepsOneMemberWithTheNewValue) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "old").status, Status::kOk);
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "new").status, Status::kOk);
  const ListResult result = List("chat");
  EXPECT_EQ(result.total, 1u);
  ASSERT_EQ(result.peers.size(), 1u);
  EXPECT_EQ(result.peers[0].value, "new");
}

TEST_P(StoreContractTest, AWriteOverAnExpiredAnnouncementListsItAgain) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "old", "", {}, absl::Seconds(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(2));
  ASSERT_EQ(List("chat").total, 0u);
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "new").status, Status::kOk);
  const ListResult result = List("chat");
  EXPECT_EQ(result.total, 1u);
  ASSERT_EQ(result.peers.size(), 1u);
  EXPECT_EQ(result.peers[0].value, "new");
}

TEST_P(StoreContractTest, AListingBeyondItsLimitIsASampleOfDistinctLiveAnnouncersAndAnExactTotal) {
  for (int i = 1; i <= 30; ++i) {
    ASSERT_EQ(Put("ip/" + Peer(i) + "/chat", "v" + std::to_string(i)).status, Status::kOk);
  }
  ASSERT_EQ(Put("ip/" + Peer(31) + "/chat", "dying", "", {}, absl::Seconds(1)).status, Status::kOk);
  clock_.Advance(absl::Seconds(1));
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const ListResult result = List("chat", 5, seed);
    ASSERT_EQ(result.status, Status::kOk);
    EXPECT_EQ(result.total, 30u);
    ASSERT_EQ(result.peers.size(), 5u);
    const std::set<std::string> addresses = Addresses(result);
    EXPECT_EQ(addresses.size(), 5u) << "members must be distinct";
    EXPECT_FALSE(addresses.contains(Peer(31))) << "an expired member was sampled";
    for (const ListedPeer& peer : result.peers) {
      EXPECT_EQ(peer.value, "v" + peer.address.substr(7));
      EXPECT_GT(peer.expires_at, clock_.Now());
    }
    seen.insert(addresses.begin(), addresses.end());
  }
  // 20 samples of 5 out of 30: a fixed subset would show at most 5 addresses.
  EXPECT_GT(seen.size(), 15u);
  EXPECT_EQ(List("chat", 0).peers.size(), 0u);
  EXPECT_EQ(List("chat", 0).total, 30u);
}

TEST_P(StoreContractTest, TheFingerprintChangesOnEveryChangeOfTheListing) {
  std::set<uint64_t> fingerprints;
  auto expect_new = [&](const char* after) {
    EXPECT_TRUE(fingerprints.insert(List("chat").fingerprint).second)
        << "unchanged after " << after;
  };
  expect_new("nothing");
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "a", "", {}, absl::Seconds(100)).status, Status::kOk);
  expect_new("a creation");
  const uint64_t before = List("chat").fingerprint;
  EXPECT_EQ(List("chat").fingerprint, before) << "a listing alone must not change it";
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "b", "", {}, absl::Seconds(100)).status, Status::kOk);
  expect_new("an update");
  ASSERT_EQ(Put("ip/10.0.0.2/chat", "c", "", {}, absl::Seconds(10)).status, Status::kOk);
  expect_new("a second announcer");
  const uint64_t with_two = List("chat").fingerprint;
  clock_.Advance(absl::Seconds(10));
  // The listing is now what it was after the update, and so may be its fingerprint.
  EXPECT_NE(List("chat").fingerprint, with_two) << "unchanged after an expiry";
  ASSERT_EQ(Delete("ip/10.0.0.1/chat").status, Status::kOk);
  EXPECT_EQ(List("chat").total, 0u);
}

TEST_P(StoreContractTest, OtherNamesDoNotChangeAListingsFingerprint) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "a").status, Status::kOk);
  const uint64_t before = List("chat").fingerprint;
  ASSERT_EQ(Put("ip/10.0.0.2/other", "x").status, Status::kOk);
  ASSERT_EQ(Put("plain", "x").status, Status::kOk);
  EXPECT_EQ(List("chat").fingerprint, before);
}

TEST_P(StoreContractTest, ADeleteChangesTheFingerprint) {
  ASSERT_EQ(Put("ip/10.0.0.1/chat", "a").status, Status::kOk);
  ASSERT_EQ(Put("ip/10.0.0.2/chat", "b").status, Status::kOk);
  const uint64_t before = List("chat").fingerprint;
  ASSERT_EQ(Delete("ip/10.0.0.2/chat").status, Status::kOk);
  EXPECT_NE(List("chat").fingerprint, before);
}

TEST_P(StoreContractTest, ListingsWhileAnnouncersComeAndGoSeeOnlyDistinctHeldAnnouncers) {
  constexpr int kWriters = 4;
  constexpr int kPeersPerWriter = 10;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this, w] {
      for (int round = 0; round < 20; ++round) {
        for (int p = 0; p < kPeersPerWriter; ++p) {
          const std::string key = "ip/10.0." + std::to_string(w) + "." + std::to_string(p) + "/n";
          if (round % 2 == 0) {
            EXPECT_EQ(Put(key, "v" + std::to_string(round)).status, Status::kOk);
          } else {
            EXPECT_EQ(Delete(key).status, Status::kOk);
          }
        }
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    const ListResult result = List("n", 7, static_cast<uint64_t>(i));
    ASSERT_EQ(result.status, Status::kOk);
    EXPECT_LE(result.total, uint64_t{kWriters * kPeersPerWriter});
    EXPECT_LE(result.peers.size(), 7u);
    EXPECT_LE(result.peers.size(), result.total);
    EXPECT_EQ(Addresses(result).size(), result.peers.size()) << "a peer listed twice";
  }
  for (std::thread& t : writers) t.join();
  // Every writer ended on a delete (round 19): nobody is left.
  EXPECT_EQ(List("n").total, 0u);
}

}  // namespace
}  // namespace rendezvous::kv

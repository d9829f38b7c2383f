#include "ratelimit/limiter.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/ip_address.h"
#include "common/stats.h"
#include "gtest/gtest.h"

namespace rendezvous::ratelimit {
namespace {

constexpr int64_t kPost = 3;
constexpr int64_t kGet = 1;

ClientKey Key(std::string_view text, int ipv6_prefix_bits = 64) {
  return ClientKey::For(*common::IpAddress::Parse(text), ipv6_prefix_bits);
}

ClientKey NthV4(uint32_t n) { return ClientKey::For(common::IpAddress::FromV4(n), 64); }

Limiter::Options SeedOptions() {
  Limiter::Options options;
  options.capacity_tokens = 11;
  options.refill_period = absl::Minutes(1);
  return options;
}

class LimiterTest : public testing::Test {
 protected:
  bool Take(Limiter& limiter, const ClientKey& key, int64_t cost) {
    return limiter.Take(key, cost, clock_.Now()).allowed;
  }
  common::ManualClock clock_;
};

TEST_F(LimiterTest, ThreePostsPassTheFourthIsRefusedAndItsTwoTokensServeTwoGets) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  Decision first = limiter.Take(client, kPost, clock_.Now());
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.remaining_tokens, 8);
  EXPECT_TRUE(Take(limiter, client, kPost));
  Decision third = limiter.Take(client, kPost, clock_.Now());
  EXPECT_TRUE(third.allowed);
  EXPECT_EQ(third.remaining_tokens, 2);

  Decision fourth = limiter.Take(client, kPost, clock_.Now());
  EXPECT_FALSE(fourth.allowed);
  EXPECT_EQ(fourth.remaining_tokens, 2);  // a refused request costs nothing

  EXPECT_TRUE(Take(limiter, client, kGet));
  Decision last = limiter.Take(client, kGet, clock_.Now());
  EXPECT_TRUE(last.allowed);
  EXPECT_EQ(last.remaining_tokens, 0);
  EXPECT_FALSE(Take(limiter, client, kGet));
  EXPECT_FALSE(Take(limiter, client, kGet));
}

TEST_F(LimiterTest, ElevenGetsPassAndTheTwelfthIsRefused) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  for (int i = 0; i < 11; ++i) {
    Decision decision = limiter.Take(client, kGet, clock_.Now());
    EXPECT_TRUE(decision.allowed) << i;
    EXPECT_EQ(decision.remaining_tokens, 10 - i);
  }
  EXPECT_FALSE(Take(limiter, client, kGet));
}

TEST_F(LimiterTest, MixedGetsAndPostsFollowTheSeedSequence) {
  // Seed: G,P,G,P,G,P,G,G,G -> pass,pass,pass,pass,pass,refused,pass,pass,refused.
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  const int64_t costs[] = {kGet, kPost, kGet, kPost, kGet, kPost, kGet, kGet, kGet};
  const bool expected[] = {true, true, true, true, true, false, true, true, false};
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(Take(limiter, client, costs[i]), expected[i]) << "request " << i;
  }
}

TEST_F(LimiterTest, RefillsContinuouslyOneTokenPerEmissionInterval) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, client, kGet));
  ASSERT_FALSE(Take(limiter, client, kGet));

  clock_.Advance(absl::Minutes(1) / 11);
  EXPECT_TRUE(Take(limiter, client, kGet));
  EXPECT_FALSE(Take(limiter, client, kGet));

  // A POST needs three intervals' worth.
  clock_.Advance(absl::Minutes(1) / 11 * 2);
  EXPECT_FALSE(Take(limiter, client, kPost));
  clock_.Advance(absl::Minutes(1) / 11);
  EXPECT_TRUE(Take(limiter, client, kPost));
}

TEST_F(LimiterTest, BucketIsFullAgainAfterTheRefillPeriod) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, client, kGet));
  clock_.Advance(absl::Minutes(1));
  for (int i = 0; i < 11; ++i) EXPECT_TRUE(Take(limiter, client, kGet)) << i;
  EXPECT_FALSE(Take(limiter, client, kGet));
}

TEST_F(LimiterTest, ReportsExactRetryAfterAndUntilFull) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("127.0.0.1");
  const int64_t interval_nanos = absl::ToInt64Nanoseconds(absl::Minutes(1)) / 11;  // T
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, client, kGet));

  Decision get = limiter.Take(client, kGet, clock_.Now());
  EXPECT_FALSE(get.allowed);
  EXPECT_EQ(get.retry_after, absl::Nanoseconds(interval_nanos));
  EXPECT_EQ(get.until_full, absl::Nanoseconds(11 * interval_nanos));
  EXPECT_EQ(get.remaining_tokens, 0);

  Decision post = limiter.Take(client, kPost, clock_.Now());
  EXPECT_FALSE(post.allowed);
  EXPECT_EQ(post.retry_after, absl::Nanoseconds(3 * interval_nanos));

  clock_.Advance(absl::Seconds(2));
  post = limiter.Take(client, kPost, clock_.Now());
  EXPECT_EQ(post.retry_after, absl::Nanoseconds(3 * interval_nanos) - absl::Seconds(2));
  EXPECT_EQ(post.until_full, absl::Nanoseconds(11 * interval_nanos) - absl::Seconds(2));

  // Waiting exactly retry_after is enough.
  clock_.Advance(post.retry_after);
  Decision passed = limiter.Take(client, kPost, clock_.Now());
  EXPECT_TRUE(passed.allowed);
  EXPECT_EQ(passed.retry_after, absl::ZeroDuration());
  EXPECT_EQ(passed.remaining_tokens, 0);
  EXPECT_EQ(passed.until_full, absl::Nanoseconds(11 * interval_nanos));
}

TEST_F(LimiterTest, AllowedRequestReportsTimeUntilFull) {
  Limiter limiter(SeedOptions());
  Decision decision = limiter.Take(Key("1.2.3.4"), kPost, clock_.Now());
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.until_full, absl::Nanoseconds(3 * (60'000'000'000 / 11)));
}

TEST_F(LimiterTest, CapacityAboveTwoHundredFiftyFiveDoesNotWrap) {
  Limiter::Options options = SeedOptions();
  options.capacity_tokens = 1000;
  Limiter limiter(options);
  EXPECT_EQ(limiter.capacity_tokens(), 1000);
  const ClientKey client = Key("127.0.0.1");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(Take(limiter, client, kGet)) << i;
  EXPECT_FALSE(Take(limiter, client, kGet));
}

TEST_F(LimiterTest, CostAboveCapacityIsAlwaysRefused) {
  Limiter limiter(SeedOptions());
  Decision decision = limiter.Take(Key("1.2.3.4"), 12, clock_.Now());
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.retry_after, absl::InfiniteDuration());
  EXPECT_EQ(decision.remaining_tokens, 11);
  EXPECT_TRUE(limiter.Take(Key("1.2.3.4"), 11, clock_.Now()).allowed);
}

TEST_F(LimiterTest, ClientsHaveSeparateBuckets) {
  Limiter limiter(SeedOptions());
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, Key("127.0.0.1"), kGet));
  EXPECT_FALSE(Take(limiter, Key("127.0.0.1"), kGet));
  EXPECT_TRUE(Take(limiter, Key("10.0.0.1"), kGet));
}

TEST_F(LimiterTest, MappedIpv6AndIpv4ShareABucket) {
  Limiter limiter(SeedOptions());
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, Key("1.2.3.4"), kGet));
  EXPECT_FALSE(Take(limiter, Key("::ffff:1.2.3.4"), kGet));
}

TEST_F(LimiterTest, Ipv6AddressesInOnePrefixShareABucket) {
  Limiter limiter(SeedOptions());
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, Key("2001:db8:1:2::1"), kGet));
  EXPECT_FALSE(Take(limiter, Key("2001:db8:1:2:ffff:ffff:ffff:ffff"), kGet));
  EXPECT_TRUE(Take(limiter, Key("2001:db8:1:3::1"), kGet));
}

TEST(ClientKeyTest, MasksIpv6ToThePrefixAndKeepsIpv4Whole) {
  EXPECT_EQ(Key("2001:db8:1:2::1", 64), Key("2001:db8:1:2:a:b:c:d", 64));
  EXPECT_NE(Key("2001:db8:1:2::1", 64), Key("2001:db8:1:3::1", 64));
  EXPECT_NE(Key("2001:db8:1:2::1", 128), Key("2001:db8:1:2::2", 128));
  EXPECT_EQ(Key("2001:db8:1:2::1", 48), Key("2001:db8:1:3::1", 48));
  EXPECT_NE(Key("10.0.0.1", 0), Key("10.0.0.2", 0));
  EXPECT_EQ(Key("10.0.0.1"), Key("::ffff:10.0.0.1"));
  // An IPv6 key never equals an IPv4 key, even masked to nothing.
  EXPECT_NE(Key("::", 0), Key("0.0.0.0"));
}

TEST_F(LimiterTest, MemoryIsFixedAtConstructionAndRoundedToAPowerOfTwo) {
  Limiter::Options options = SeedOptions();
  options.table_slots = 1000;
  Limiter limiter(options);
  EXPECT_EQ(limiter.slot_count(), 1024u);
  EXPECT_GE(limiter.MemoryBytes(), 1024u * 24);
  EXPECT_LT(limiter.MemoryBytes(), 1024u * 24 + 64 * 64 + 1);

  options.table_slots = 1;
  EXPECT_EQ(Limiter(options).slot_count(), 8u);
}

TEST_F(LimiterTest, FloodOfDistinctAddressesNeitherGrowsMemoryNorFreesARefusedClient) {
  Limiter::Options options = SeedOptions();
  options.table_slots = 4096;
  Limiter limiter(options);
  const size_t memory = limiter.MemoryBytes();
  const ClientKey victim = Key("198.51.100.7");
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, victim, kGet));
  ASSERT_FALSE(Take(limiter, victim, kGet));

  // Every flood address is new, so each one passes (a full bucket) and takes a slot.
  for (uint32_t i = 0; i < 1'000'000; ++i) {
    ASSERT_TRUE(Take(limiter, NthV4(0x0a000000 + i), kGet)) << i;
  }
  EXPECT_EQ(limiter.MemoryBytes(), memory);
  EXPECT_GT(limiter.evictions(), 900'000u);
  // The flood's buckets (one token used) are closer to full than the victim's empty bucket, so
  // they are evicted first and the victim stays refused.
  EXPECT_FALSE(Take(limiter, victim, kGet));
}

TEST_F(LimiterTest, EvictsTheBucketClosestToFullWhenASetIsFull) {
  // Eight slots are one set: the eviction order is fully observable.
  Limiter::Options options = SeedOptions();
  options.table_slots = 8;
  Limiter limiter(options);
  // Client 0 drains its bucket; clients 1..7 take one token each and fill the set.
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, NthV4(0), kGet));
  for (uint32_t c = 1; c < 8; ++c) ASSERT_TRUE(Take(limiter, NthV4(c), c));
  EXPECT_EQ(limiter.evictions(), 0u);

  // A newcomer evicts client 1 (one token used, the closest to full).
  ASSERT_TRUE(Take(limiter, NthV4(100), 11));
  EXPECT_EQ(limiter.evictions(), 1u);
  EXPECT_EQ(limiter.Take(NthV4(1), 11, clock_.Now()).remaining_tokens, 0);  // fresh bucket
  EXPECT_EQ(limiter.evictions(), 2u);           // ...which evicted client 2 in turn
  EXPECT_FALSE(Take(limiter, NthV4(0), kGet));  // the drained client is still refused
  EXPECT_EQ(limiter.Take(NthV4(7), kGet, clock_.Now()).remaining_tokens, 3);  // still tracked
}

TEST_F(LimiterTest, EvictionsAreCountedInTheCounterItIsGiven) {
  common::Counter evictions;
  Limiter::Options options = SeedOptions();
  options.table_slots = 8;
  options.evictions = &evictions;
  Limiter limiter(options);
  for (uint32_t c = 0; c < 8; ++c) ASSERT_TRUE(Take(limiter, NthV4(c), kGet));
  EXPECT_EQ(evictions.Value(), 0u);
  ASSERT_TRUE(Take(limiter, NthV4(100), kGet));  // a ninth client in a set of eight
  EXPECT_EQ(evictions.Value(), 1u);
  EXPECT_EQ(limiter.evictions(), 1u);
}

TEST_F(LimiterTest, RefusedClientIsFreedOnlyWhenEvicted) {
  // The documented trade-off: once every other entry in the set is as drained as the refused
  // client, the refused client can be the one evicted and gets a full bucket early.
  Limiter::Options options = SeedOptions();
  options.table_slots = 8;
  Limiter limiter(options);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, NthV4(0), kGet));
  for (uint32_t c = 1; c < 8; ++c) ASSERT_TRUE(Take(limiter, NthV4(c), 11));
  ASSERT_FALSE(Take(limiter, NthV4(0), kGet));
  ASSERT_TRUE(Take(limiter, NthV4(100), 11));  // ties: the first way (client 0) is evicted
  EXPECT_TRUE(Take(limiter, NthV4(0), kGet));
}

TEST_F(LimiterTest, ClockMovingBackwardsDoesNotLockAClientOut) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("1.2.3.4");
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Take(limiter, client, kGet));
  clock_.Advance(-absl::Hours(1));
  Decision decision = limiter.Take(client, kGet, clock_.Now());
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.until_full, absl::Nanoseconds(11 * (60'000'000'000 / 11)));
  clock_.Advance(absl::Minutes(1) / 11);
  EXPECT_TRUE(Take(limiter, client, kGet));
}

TEST_F(LimiterTest, CostZeroIsAProbeThatChangesNothing) {
  Limiter limiter(SeedOptions());
  const ClientKey client = Key("1.2.3.4");
  ASSERT_TRUE(Take(limiter, client, kPost));
  Decision probe = limiter.Take(client, 0, clock_.Now());
  EXPECT_TRUE(probe.allowed);
  EXPECT_EQ(probe.remaining_tokens, 8);
  EXPECT_EQ(limiter.Take(client, kGet, clock_.Now()).remaining_tokens, 7);
}

TEST_F(LimiterTest, ConcurrentTakesOnOneKeyNeverExceedTheCapacity) {
  Limiter::Options options = SeedOptions();
  options.capacity_tokens = 1000;
  Limiter limiter(options);
  const ClientKey client = Key("203.0.113.5");
  const absl::Time now = clock_.Now();  // time stands still: no refill during the test
  std::atomic<int64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        const int64_t cost = (t % 2 == 0) ? kGet : kPost;
        if (limiter.Take(client, cost, now).allowed) granted.fetch_add(cost);
        // Unrelated keys contend for the same shards.
        limiter.Take(NthV4(static_cast<uint32_t>(t * 1000 + i)), kGet, now);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(granted.load(), 1000);
  EXPECT_GE(granted.load(), 998);  // only a POST that no longer fits can leave tokens unused
  EXPECT_FALSE(limiter.Take(client, kPost, now).allowed);
}

}  // namespace
}  // namespace rendezvous::ratelimit

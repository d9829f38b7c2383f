// The Redis engine: the store contract against a real redis-server, plus what only Redis has.
#include "kv/redis_store.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../redis/redis_server_process.h"
#include "gtest/gtest.h"
#include "store_contract.h"

namespace rendezvous::kv {
namespace {

// One redis-server for the whole binary, started before the first test and killed after the
// last; every store gets a fresh prefix, so stores never see each other's keys.
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    server_ = redis::RedisServerProcess::Start({}, &error);
    ASSERT_NE(server_, nullptr) << "redis-server: " << error;
  }
  void TearDown() override { server_.reset(); }
  static std::unique_ptr<redis::RedisServerProcess> server_;
};
std::unique_ptr<redis::RedisServerProcess> RedisEnvironment::server_;
[[maybe_unused]] ::testing::Environment* const kRedisEnvironment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

redis::RedisServerProcess& SharedServer() { return *RedisEnvironment::server_; }

RedisStoreOptions OptionsFor(size_t max_entries) {
  static int next_prefix = 0;
  RedisStoreOptions options;
  EXPECT_EQ(redis::ParseUrl(SharedServer().Url(), &options.client.endpoint), redis::UrlError::kOk);
  options.prefix = "t" + std::to_string(++next_prefix) + ":";
  options.max_entries = max_entries;
  options.limits = kContractLimits;
  return options;
}

std::unique_ptr<Store> MakeRedisStore(size_t max_entries) {
  if (RedisEnvironment::server_ == nullptr) return nullptr;  // the environment failed already
  std::string error;
  auto store = RedisStore::Open(OptionsFor(max_entries), &error);
  EXPECT_NE(store, nullptr) << error;
  return store;
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreContractTest,
                         ::testing::Values(StoreFactory{"Redis", MakeRedisStore}),
                         StoreFactoryName);

WriteResult SyncPut(Store& store, PutRequest request) {
  std::promise<WriteResult> promise;
  store.Put(request, [&promise](const WriteResult& r) { promise.set_value(r); });
  return promise.get_future().get();
}

GetOutcome SyncGet(Store& store, std::string_view key, absl::Time now) {
  std::promise<GetOutcome> promise;
  store.Get(key, now, [&promise](const GetResult& r) {
    promise.set_value(
        GetOutcome{r.status, std::string(r.entry.value), r.entry.version, r.entry.expires_at});
  });
  return promise.get_future().get();
}

// Two engines on one prefix are two servers sharing one Redis: they must behave as one store.
TEST(RedisStoreTest, TwoStoresOnOnePrefixShareEntriesOwnersVersionsAndCapacity) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(2);
  std::string error;
  auto a = RedisStore::Open(options, &error);
  ASSERT_NE(a, nullptr) << error;
  auto b = RedisStore::Open(options, &error);
  ASSERT_NE(b, nullptr) << error;
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);

  PutRequest put;
  put.key = "shared";
  put.value = "from a";
  put.secret = "owner";
  put.now = now;
  put.expires_at = now + absl::Hours(1);
  const WriteResult first = SyncPut(*a, put);
  ASSERT_EQ(first.status, Status::kOk);

  const GetOutcome seen = SyncGet(*b, "shared", now);
  EXPECT_EQ(seen.status, Status::kOk);
  EXPECT_EQ(seen.value, "from a");
  EXPECT_EQ(seen.version, first.version);

  // The owner hashing key is shared: b checks a's claim.
  put.value = "from b";
  put.secret = "not the owner";
  EXPECT_EQ(SyncPut(*b, put).status, Status::kForbidden);
  put.secret = "owner";
  const WriteResult second = SyncPut(*b, put);
  ASSERT_EQ(second.status, Status::kOk);
  EXPECT_GT(second.version, first.version);

  // The capacity of 2 counts the entries of both.
  put.secret = "";
  put.key = "second";
  EXPECT_EQ(SyncPut(*a, put).status, Status::kOk);
  put.key = "third";
  EXPECT_EQ(SyncPut(*b, put).status, Status::kCapacityReached);
}

// Runs one command on the shared server, waited for.
redis::Reply Call(std::initializer_list<std::string_view> args) {
  redis::ClientOptions options;
  EXPECT_EQ(redis::ParseUrl(SharedServer().Url(), &options.endpoint), redis::UrlError::kOk);
  redis::Client client(options);
  EXPECT_TRUE(client.WaitConnected(absl::Seconds(10)));
  std::promise<redis::Reply> promise;
  client.Command(args,
                 [&promise](redis::CommandError, const redis::Reply& r) { promise.set_value(r); });
  return promise.get_future().get();
}

TEST(RedisStoreTest, KeysUnderThePrefixThatAreNotOursRefuseTheStart) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(2);
  Call({"SET", options.prefix + "someone-elses", "x"});
  std::string error;
  EXPECT_EQ(RedisStore::Open(options, &error), nullptr);
  EXPECT_NE(error.find("did not write (such as " + options.prefix + "someone-elses)"),
            std::string::npos)
      << error;
}

TEST(RedisStoreTest, AnotherLayoutVersionRefusesTheStart) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(2);
  Call({"SET", options.prefix + "format", "99"});
  std::string error;
  EXPECT_EQ(RedisStore::Open(options, &error), nullptr);
  EXPECT_NE(error.find("format is 99, this server writes format 1"), std::string::npos) << error;
}

TEST(RedisStoreTest, AnEmptyPrefixIsClaimedAndReopened) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(2);
  std::string error;
  ASSERT_NE(RedisStore::Open(options, &error), nullptr) << error;
  EXPECT_EQ(Call({"GET", options.prefix + "format"}).str, "1");
  EXPECT_NE(RedisStore::Open(options, &error), nullptr) << error;
}

GetResult SyncChargedGet(Store& store, std::string_view key, const RateCharge& charge) {
  std::promise<GetResult> promise;
  store.ChargedGet(key, absl::Now(), charge, [&promise](const GetResult& r) {
    GetResult copy;  // the entry's views die with the callback; only status and rate are kept
    copy.status = r.status;
    copy.rate = r.rate;
    promise.set_value(copy);
  });
  return promise.get_future().get();
}

// The bucket is charged on Redis's clock, so this test cannot move time: a refill period of an
// hour keeps the bucket from refilling while it runs.
TEST(RedisStoreTest, AClientHasOneTokenBucketAcrossStoresChargedInsideTheOperation) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(10);
  options.capacity_tokens = 5;
  options.refill_period = absl::Hours(1);
  std::string error;
  auto a = RedisStore::Open(options, &error);
  ASSERT_NE(a, nullptr) << error;
  auto b = RedisStore::Open(options, &error);
  ASSERT_NE(b, nullptr) << error;
  ASSERT_TRUE(a->ChargesRateLimit());

  RateCharge charge;
  charge.client[15] = 7;
  charge.cost_tokens = 1;
  GetResult first = SyncChargedGet(*a, "k", charge);
  EXPECT_EQ(first.status, Status::kNotFound);
  ASSERT_TRUE(first.rate.has_value());
  EXPECT_TRUE(first.rate->allowed);
  EXPECT_EQ(first.rate->remaining_tokens, 4);
  EXPECT_EQ(SyncChargedGet(*b, "k", charge).rate->remaining_tokens, 3);

  PutRequest put;
  put.key = "k";
  put.value = "v";
  put.now = absl::Now();
  put.expires_at = put.now + absl::Hours(1);
  put.charge = charge;
  put.charge.cost_tokens = 3;
  const WriteResult written = SyncPut(*a, put);  // 3 of the 3 left
  EXPECT_EQ(written.status, Status::kOk);
  ASSERT_TRUE(written.rate.has_value());
  EXPECT_EQ(written.rate->remaining_tokens, 0);

  const GetResult refused = SyncChargedGet(*b, "k", charge);
  EXPECT_EQ(refused.status, Status::kRateLimited);
  ASSERT_TRUE(refused.rate.has_value());
  EXPECT_FALSE(refused.rate->allowed);
  EXPECT_GT(refused.rate->retry_after, absl::Minutes(11));  // one token: an hour / 5
  EXPECT_LE(refused.rate->retry_after, absl::Minutes(12));
  put.key = "other";
  EXPECT_EQ(SyncPut(*b, put).status, Status::kRateLimited);
  EXPECT_EQ(SyncGet(*b, "other", absl::Now()).status, Status::kNotFound);  // not written

  // Another client has its own bucket; an idle bucket expires in Redis when it is full again.
  charge.client[15] = 8;
  EXPECT_EQ(SyncChargedGet(*a, "k", charge).status, Status::kOk);
  const redis::Reply ttl = Call({"PTTL", options.prefix + "rl:" + std::string(30, '0') + "08"});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 12 * 60 * 1000);
}

// What a store's change feed told, from the subscriber's thread.
class Feed {
 public:
  using Change = std::pair<std::string, uint64_t>;
  void Listen(Store& store) {
    store.SetChangeListener([this](std::string_view key, uint64_t version) {
      std::lock_guard lock(mu_);
      changes_.emplace_back(std::string(key), version);
      cv_.notify_all();
    });
    store.SetChangesLostListener([this] {
      std::lock_guard lock(mu_);
      ++lost_;
      cv_.notify_all();
    });
  }
  // Waits (bounded) until `n` changes were heard; returns all of them.
  std::vector<Change> WaitForChanges(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return changes_.size() >= n; });
    return changes_;
  }
  // Waits (bounded) until the changes-lost listener ran `n` times; returns the count.
  int WaitForLost(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return lost_ >= n; });
    return lost_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Change> changes_;
  int lost_ = 0;
};

// Long polls across servers: a write through one server wakes the waiters of every server.
TEST(RedisStoreTest, AWriteThroughOneStoreIsHeardOnceByEveryStoreOnThePrefix) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(10);
  std::string error;
  auto a = RedisStore::Open(options, &error);
  ASSERT_NE(a, nullptr) << error;
  auto b = RedisStore::Open(options, &error);
  ASSERT_NE(b, nullptr) << error;
  Feed heard_by_a;
  Feed heard_by_b;
  heard_by_a.Listen(*a);
  heard_by_b.Listen(*b);
  // Another program publishing on the channel is not a change.
  (void)Call({"PUBLISH", options.prefix + "changes", "not a change"});
  (void)Call({"PUBLISH", options.prefix + "changes", "12x k"});

  const absl::Time now = absl::Now();
  PutRequest put;
  put.key = "key with spaces";
  put.value = "v";
  put.now = now;
  put.expires_at = now + absl::Hours(1);
  const WriteResult written = SyncPut(*a, put);
  ASSERT_EQ(written.status, Status::kOk);
  DeleteRequest del;
  del.key = put.key;
  del.now = now;
  std::promise<WriteResult> deleted;
  b->Delete(del, [&deleted](const WriteResult& r) { deleted.set_value(r); });
  ASSERT_EQ(deleted.get_future().get().status, Status::kOk);
  put.key = "fence";
  const WriteResult fence = SyncPut(*b, put);
  ASSERT_EQ(fence.status, Status::kOk);

  const std::vector<Feed::Change> expected = {
      {"key with spaces", written.version}, {"key with spaces", 0}, {"fence", fence.version}};
  EXPECT_EQ(heard_by_b.WaitForChanges(expected.size()), expected);
  // The writer hears its own writes once, through the channel like everyone else.
  EXPECT_EQ(heard_by_a.WaitForChanges(expected.size()), expected);
}

TEST(RedisStoreTest, ALostSubscriptionIsRestoredAndTellsTheChangesLostListener) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(10);
  options.client.backoff_min = absl::Milliseconds(10);
  std::string error;
  auto a = RedisStore::Open(options, &error);
  ASSERT_NE(a, nullptr) << error;
  Feed feed;
  feed.Listen(*a);
  // Redis drops every subscriber connection (as when it restarts or evicts a slow subscriber).
  const redis::Reply killed = Call({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_GE(killed.integer, 1);
  EXPECT_EQ(feed.WaitForLost(1), 1);

  PutRequest put;
  put.key = "after";
  put.value = "v";
  put.now = absl::Now();
  put.expires_at = put.now + absl::Hours(1);
  const WriteResult written = SyncPut(*a, put);
  ASSERT_EQ(written.status, Status::kOk);
  EXPECT_EQ(feed.WaitForChanges(1), (std::vector<Feed::Change>{{"after", written.version}}));
}

// A long poll's answer after a wake reports the bucket its first read charged, charging nothing.
TEST(RedisStoreTest, AReportOnlyChargeReportsTheBucketWithoutChargingIt) {
  ASSERT_NE(RedisEnvironment::server_, nullptr);
  RedisStoreOptions options = OptionsFor(10);
  options.capacity_tokens = 5;
  options.refill_period = absl::Hours(1);
  std::string error;
  auto a = RedisStore::Open(options, &error);
  ASSERT_NE(a, nullptr) << error;
  RateCharge charge;
  charge.client[15] = 9;
  charge.cost_tokens = 1;
  ASSERT_EQ(SyncChargedGet(*a, "k", charge).rate->remaining_tokens, 4);
  RateCharge report;
  report.client = charge.client;
  report.report_only = true;
  for (int i = 0; i < 3; ++i) {
    const GetResult reported = SyncChargedGet(*a, "k", report);
    EXPECT_EQ(reported.status, Status::kNotFound);
    ASSERT_TRUE(reported.rate.has_value());
    EXPECT_TRUE(reported.rate->allowed);
    EXPECT_EQ(reported.rate->remaining_tokens, 4);
  }
  EXPECT_EQ(SyncChargedGet(*a, "k", charge).rate->remaining_tokens, 3);
}

}  // namespace
}  // namespace rendezvous::kv

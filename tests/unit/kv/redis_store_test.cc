// The Redis engine: the store contract against a real redis-server, plus what only Redis has.
#include "kv/redis_store.h"

#include <future>
#include <memory>
#include <string>

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

}  // namespace
}  // namespace rendezvous::kv

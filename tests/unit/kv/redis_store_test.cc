// The Redis engine: the store contract against a real redis-server, plus what only Redis has.
#include "kv/redis_store.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "store_contract.h"
#include "../redis/redis_server_process.h"

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

}  // namespace
}  // namespace rendezvous::kv

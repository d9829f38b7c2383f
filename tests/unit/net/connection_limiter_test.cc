// ConnectionLimiter: total and per-client caps on open connections.
#include "net/connection_limiter.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace rendezvous::net {
namespace {

common::IpAddress Ip(const char* text) { return *common::IpAddress::Parse(text); }

TEST(ConnectionLimiterTest, RefusesPastThePerClientCapAndAdmitsAgainAfterARelease) {
  ConnectionLimiter limiter(100, 2, 64);
  EXPECT_TRUE(limiter.TryAcquire(Ip("203.0.113.1"), false));
  EXPECT_TRUE(limiter.TryAcquire(Ip("203.0.113.1"), false));
  EXPECT_FALSE(limiter.TryAcquire(Ip("203.0.113.1"), false));
  EXPECT_TRUE(limiter.TryAcquire(Ip("203.0.113.2"), false));  // another client is not affected
  limiter.Release(Ip("203.0.113.1"), false);
  EXPECT_TRUE(limiter.TryAcquire(Ip("203.0.113.1"), false));
  EXPECT_EQ(limiter.open_connections(), 3u);
}

TEST(ConnectionLimiterTest, AddressesInsideOneIpv6PrefixShareTheCap) {
  ConnectionLimiter limiter(100, 2, 64);
  EXPECT_TRUE(limiter.TryAcquire(Ip("2001:db8:1:2::1"), false));
  EXPECT_TRUE(limiter.TryAcquire(Ip("2001:db8:1:2:ffff::9"), false));
  EXPECT_FALSE(limiter.TryAcquire(Ip("2001:db8:1:2:abcd::1"), false));
  EXPECT_TRUE(limiter.TryAcquire(Ip("2001:db8:1:3::1"), false));
}

TEST(ConnectionLimiterTest, ExemptPeersSkipThePerClientCapButCountInTheTotal) {
  ConnectionLimiter limiter(3, 1, 64);
  EXPECT_TRUE(limiter.TryAcquire(Ip("127.0.0.1"), true));
  EXPECT_TRUE(limiter.TryAcquire(Ip("127.0.0.1"), true));
  EXPECT_TRUE(limiter.TryAcquire(Ip("127.0.0.1"), true));
  EXPECT_FALSE(limiter.TryAcquire(Ip("127.0.0.1"), true));  // total cap
  EXPECT_FALSE(limiter.TryAcquire(Ip("203.0.113.1"), false));
  limiter.Release(Ip("127.0.0.1"), true);
  EXPECT_TRUE(limiter.TryAcquire(Ip("203.0.113.1"), false));
}

TEST(ConnectionLimiterTest, ConcurrentAcquiresNeverPassTheTotalCap) {
  ConnectionLimiter limiter(50, 1000, 64);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.TryAcquire(common::IpAddress::FromV4(0xCB007100u + t), false)) ++admitted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 50);
  EXPECT_EQ(limiter.open_connections(), 50u);
}

}  // namespace
}  // namespace rendezvous::net

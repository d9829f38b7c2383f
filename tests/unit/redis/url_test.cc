#include "redis/url.h"

#include "gtest/gtest.h"

namespace rendezvous::redis {
namespace {

Endpoint MustParse(std::string_view url) {
  Endpoint endpoint;
  EXPECT_EQ(ParseUrl(url, &endpoint), UrlError::kOk) << url;
  return endpoint;
}

UrlError ErrorOf(std::string_view url) {
  Endpoint endpoint;
  return ParseUrl(url, &endpoint);
}

TEST(RedisUrlTest, HostPortAndDatabase) {
  Endpoint e = MustParse("redis://10.0.0.5:6380/3");
  EXPECT_EQ(e.kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 3u);
  EXPECT_EQ(e.password, "");
}

TEST(RedisUrlTest, PortAndDatabaseDefault) {
  Endpoint e = MustParse("redis://cache.internal");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0u);
  EXPECT_EQ(MustParse("redis://h:1/").db, 0u);
}

TEST(RedisUrlTest, PasswordAndUserAreTakenLiterallyUpToTheLastAt) {
  Endpoint e = MustParse("redis://:p@ss:w0rd@127.0.0.1:6379/0");
  EXPECT_EQ(e.user, "");
  EXPECT_EQ(e.password, "p@ss:w0rd");
  Endpoint u = MustParse("redis://app:secret@127.0.0.1");
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.password, "secret");
}

TEST(RedisUrlTest, BracketedIpv6Host) {
  Endpoint e = MustParse("redis://[::1]:7000/1");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 1u);
}

TEST(RedisUrlTest, UnixSocketForms) {
  Endpoint e = MustParse("unix:///run/redis/redis.sock?db=2");
  EXPECT_EQ(e.kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(e.path, "/run/redis/redis.sock");
  EXPECT_EQ(e.db, 2u);
  Endpoint p = MustParse("redis+unix://:pw@/tmp/r.sock");
  EXPECT_EQ(p.path, "/tmp/r.sock");
  EXPECT_EQ(p.password, "pw");
  EXPECT_EQ(p.db, 0u);
}

TEST(RedisUrlTest, EachMistakeHasItsOwnError) {
  EXPECT_EQ(ErrorOf("/var/lib/rdv.mdb"), UrlError::kNotRedisUrl);
  EXPECT_EQ(ErrorOf("http://127.0.0.1:6379"), UrlError::kNotRedisUrl);
  EXPECT_EQ(ErrorOf("rediss://127.0.0.1:6379"), UrlError::kNotRedisUrl);
  EXPECT_EQ(ErrorOf("redis://"), UrlError::kMissingHost);
  EXPECT_EQ(ErrorOf("redis://:6379/0"), UrlError::kMissingHost);
  EXPECT_EQ(ErrorOf("redis://[::1:6379"), UrlError::kBadHost);
  EXPECT_EQ(ErrorOf("redis://ho st:6379"), UrlError::kBadHost);
  EXPECT_EQ(ErrorOf("redis://h:0"), UrlError::kBadPort);
  EXPECT_EQ(ErrorOf("redis://h:65536"), UrlError::kBadPort);
  EXPECT_EQ(ErrorOf("redis://h:+80"), UrlError::kBadPort);
  EXPECT_EQ(ErrorOf("redis://h:"), UrlError::kBadPort);
  EXPECT_EQ(ErrorOf("redis://h:80/x"), UrlError::kBadDatabase);
  EXPECT_EQ(ErrorOf("redis://h:80/-1"), UrlError::kBadDatabase);
  EXPECT_EQ(ErrorOf("redis://h:80/2147483648"), UrlError::kBadDatabase);
  EXPECT_EQ(ErrorOf("redis://h:80/1/extra"), UrlError::kTrailingText);
  EXPECT_EQ(ErrorOf("redis://h:80/1?x=1"), UrlError::kTrailingText);
  EXPECT_EQ(ErrorOf("unix://"), UrlError::kMissingSocketPath);
  EXPECT_EQ(ErrorOf("unix://relative/path"), UrlError::kMissingSocketPath);
  EXPECT_EQ(ErrorOf("unix:///"), UrlError::kMissingSocketPath);
  EXPECT_EQ(ErrorOf("unix:///s.sock?database=1"), UrlError::kBadQuery);
  EXPECT_EQ(ErrorOf("unix:///s.sock?db=x"), UrlError::kBadDatabase);
}

TEST(RedisUrlTest, LoggedFormHasNoPassword) {
  EXPECT_EQ(EndpointForLog(MustParse("redis://:hunter2@127.0.0.1:6379/4")),
            "redis://127.0.0.1:6379/4");
  EXPECT_EQ(EndpointForLog(MustParse("redis://[::1]")), "redis://[::1]:6379/0");
  EXPECT_EQ(EndpointForLog(MustParse("unix://:pw@/tmp/r.sock?db=1")), "unix:///tmp/r.sock?db=1");
}

}  // namespace
}  // namespace rendezvous::redis

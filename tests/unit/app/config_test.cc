// Tests for app/config.h: the defaults, every bound of Validate, the CIDR list parser, and Go's
// duration format.
#include "app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rendezvous::app {
namespace {

using ::testing::HasSubstr;

common::CidrBlock Cidr(std::string_view text) {
  std::optional<common::CidrBlock> block = common::CidrBlock::Parse(text);
  EXPECT_TRUE(block.has_value()) << text;
  return block.value_or(common::CidrBlock{});
}

bool SameBlocks(const std::vector<common::CidrBlock>& a, const std::vector<common::CidrBlock>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].base == b[i].base) || a[i].prefix_bits != b[i].prefix_bits) return false;
  }
  return true;
}

TEST(ConfigTest, DefaultsAreTheSeedsDefaults) {
  Config config;
  EXPECT_EQ(config.max_key_bytes, 100u);
  EXPECT_EQ(config.max_value_bytes, 1000u);
  EXPECT_EQ(config.max_entries, 100000u);
  EXPECT_EQ(config.expire, absl::Hours(2));
  EXPECT_EQ(config.reset, absl::Minutes(1));
  EXPECT_EQ(config.save, absl::Minutes(30));
  EXPECT_EQ(config.max_requests, 11);
  EXPECT_EQ(config.port, 80);
  EXPECT_EQ(config.listen_address, "0.0.0.0");
  EXPECT_TRUE(config.listen_ip == common::IpAddress::FromV4(0));
  EXPECT_FALSE(config.disable_localhost_warning);
}

TEST(ConfigTest, DefaultsOfTheNewSettingsAreAsDocumented) {
  Config config;
  EXPECT_TRUE(SameBlocks(config.trusted_proxies, {Cidr("127.0.0.0/8"), Cidr("::1/128")}));
  EXPECT_EQ(config.threads, 0);
  EXPECT_EQ(config.db_path, "store.db");
  EXPECT_FALSE(config.sync_writes);
  EXPECT_EQ(config.ipv6_prefix_bits, 64);
  EXPECT_EQ(config.max_keys_per_client, 250u);
}

TEST(ConfigTest, AKeyQuotaIsZeroOrAtMostTheEntryLimit) {
  Config config;
  config.max_keys_per_client = 0;
  EXPECT_EQ(Validate(config), std::nullopt);
  config.max_entries = 10;
  config.max_keys_per_client = 250;  // never bites, but the original's -maxNumKV 10 must still start
  EXPECT_EQ(Validate(config), std::nullopt);
  config.max_keys_per_client = kMaxEntriesLimit + 1;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxKeysPerIP must be between 0"));
}

TEST(ConfigTest, DefaultConfigIsValid) { EXPECT_EQ(Validate(Config{}), std::nullopt); }

TEST(ConfigTest, SizesMustBePositive) {
  Config config;
  config.max_key_bytes = 0;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxKeySize must be between 1 and 2048"));
  config = Config{};
  config.max_value_bytes = 0;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxValueSize"));
  config = Config{};
  config.max_entries = 0;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxNumKV"));
}

TEST(ConfigTest, LongKeysNeedTheMemoryEngine) {
  Config config;
  config.max_key_bytes = 511;
  EXPECT_EQ(Validate(config), std::nullopt);
  config.max_key_bytes = 512;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("at most 511 with the LMDB store"));
  config.db_path = "";
  EXPECT_EQ(Validate(config), std::nullopt);
}

TEST(ConfigTest, SizesHaveUpperBounds) {
  Config config;
  config.db_path = "";  // the memory engine: no LMDB key limit
  config.max_key_bytes = 2048;
  config.max_value_bytes = 16 * 1024 * 1024;
  config.max_entries = 1'000'000'000;
  EXPECT_EQ(Validate(config), std::nullopt);

  config.max_key_bytes = 2049;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("8 KiB request line"));
  config.max_key_bytes = 100;
  config.max_value_bytes = 16 * 1024 * 1024 + 1;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxValueSize"));
  config.max_value_bytes = 1000;
  config.max_entries = 1'000'000'001;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-maxNumKV"));
}

TEST(ConfigTest, MaxRequestsBelowThreeIsRefusedBecauseAPostCouldNeverPass) {
  Config config;
  config.max_requests = 2;
  EXPECT_EQ(Validate(config),
            "-maxRequests must be at least 3, got 2 (a POST costs 3 tokens, so it could never "
            "pass)");
  config.max_requests = 3;
  EXPECT_EQ(Validate(config), std::nullopt);
  config.max_requests = 1'000'000'000;
  EXPECT_EQ(Validate(config), std::nullopt);
  config.max_requests = 1'000'000'001;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("at most"));
}

TEST(ConfigTest, DurationsMustBePositiveAndFinite) {
  for (absl::Duration Config::*field : {&Config::expire, &Config::reset, &Config::save}) {
    Config config;
    config.*field = absl::ZeroDuration();
    EXPECT_THAT(Validate(config).value_or(""), HasSubstr("greater than zero, got 0s"));
    config.*field = -absl::Minutes(1);
    EXPECT_THAT(Validate(config).value_or(""), HasSubstr("got -1m0s"));
    config.*field = absl::InfiniteDuration();
    EXPECT_THAT(Validate(config).value_or(""), HasSubstr("finite"));
    config.*field = absl::Hours(24 * 365 * 101);
    EXPECT_THAT(Validate(config).value_or(""), HasSubstr("100 years"));
    config.*field = absl::Nanoseconds(1);
    EXPECT_EQ(Validate(config), std::nullopt);
  }
}

TEST(ConfigTest, ValidateNamesTheFlagOfTheBadDuration) {
  Config config;
  config.save = absl::ZeroDuration();
  EXPECT_EQ(Validate(config), "-saveDuration must be greater than zero, got 0s");
}

TEST(ConfigTest, ThreadsRangeFromZeroTo256) {
  Config config;
  config.threads = 256;
  EXPECT_EQ(Validate(config), std::nullopt);
  config.threads = 257;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-threads"));
  config.threads = -1;
  EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-threads"));
}

TEST(ConfigTest, Ipv6PrefixRangesFrom1To128) {
  Config config;
  for (int bits : {1, 128}) {
    config.ipv6_prefix_bits = bits;
    EXPECT_EQ(Validate(config), std::nullopt);
  }
  for (int bits : {0, 129, -1}) {
    config.ipv6_prefix_bits = bits;
    EXPECT_THAT(Validate(config).value_or(""), HasSubstr("-ipv6Prefix"));
  }
}

TEST(ConfigTest, WorkerThreadsIsTheSettingOrTheCoreCount) {
  Config config;
  config.threads = 3;
  EXPECT_EQ(WorkerThreads(config), 3);
  config.threads = 0;
  EXPECT_GE(WorkerThreads(config), 1);
  EXPECT_LE(WorkerThreads(config), kMaxThreads);
}

TEST(ConfigTest, DefaultTrustedProxiesAreLoopbackOnly) {
  EXPECT_TRUE(
      SameBlocks(Config::DefaultTrustedProxies(), {Cidr("127.0.0.0/8"), Cidr("::1/128")}));
}

TEST(FormatGoDurationTest, PrintsLikeGosDurationString) {
  EXPECT_EQ(FormatGoDuration(absl::Hours(2)), "2h0m0s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(1)), "1m0s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(30)), "30m0s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(90)), "1h30m0s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(500)), "500ms");
  EXPECT_EQ(FormatGoDuration(absl::Microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1500)), "1.5µs");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(3)), "3ns");
  EXPECT_EQ(FormatGoDuration(absl::Hours(1) + absl::Nanoseconds(1)), "1h0m0.000000001s");
  EXPECT_EQ(FormatGoDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatGoDuration(-absl::Minutes(1)), "-1m0s");
  EXPECT_EQ(FormatGoDuration(absl::InfiniteDuration()), "inf");
}

}  // namespace
}  // namespace rendezvous::app

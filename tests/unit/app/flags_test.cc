// Tests for app/flags.h: Go `flag` syntax, Go durations, every refusal and its exit status, -h.
#include "app/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "common/version.h"

namespace rendezvous::app {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class FlagsTest : public ::testing::Test {
 protected:
  // Runs ParseFlags on "rendezvous-server <args...>".
  static FlagsResult Parse(std::initializer_list<std::string> args) {
    std::vector<std::string> storage = {"rendezvous-server"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    return ParseFlags(static_cast<int>(storage.size()), argv.data());
  }

  // The config of a command line that must be accepted.
  static Config Accept(std::initializer_list<std::string> args) {
    FlagsResult result = Parse(args);
    EXPECT_TRUE(result.config.has_value()) << result.output;
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.output, "");
    return result.config.value_or(Config{});
  }

  // The message of a command line that must be refused with exit status 2.
  static std::string Refuse(std::initializer_list<std::string> args) {
    FlagsResult result = Parse(args);
    EXPECT_FALSE(result.config.has_value());
    EXPECT_EQ(result.exit_code, 2);
    return result.output;
  }

  // Leaves the process's flags at their defaults. (absl::FlagSaver would do too, but logs a line
  // for every flag it restores.)
  void TearDown() override { (void)Parse({}); }
};

TEST_F(FlagsTest, NoArgumentsGiveTheDefaultConfig) {
  Config parsed = Accept({});
  Config defaults;
  EXPECT_EQ(parsed.max_key_bytes, defaults.max_key_bytes);
  EXPECT_EQ(parsed.max_value_bytes, defaults.max_value_bytes);
  EXPECT_EQ(parsed.max_entries, defaults.max_entries);
  EXPECT_EQ(parsed.expire, defaults.expire);
  EXPECT_EQ(parsed.reset, defaults.reset);
  EXPECT_EQ(parsed.save, defaults.save);
  EXPECT_EQ(parsed.max_requests, defaults.max_requests);
  EXPECT_EQ(parsed.port, defaults.port);
  EXPECT_EQ(parsed.listen_address, defaults.listen_address);
  EXPECT_TRUE(parsed.listen_ip == defaults.listen_ip);
  EXPECT_EQ(parsed.disable_localhost_warning, defaults.disable_localhost_warning);
  ASSERT_EQ(parsed.trusted_proxies.size(), defaults.trusted_proxies.size());
  for (size_t i = 0; i < parsed.trusted_proxies.size(); ++i) {
    EXPECT_TRUE(parsed.trusted_proxies[i].base == defaults.trusted_proxies[i].base);
    EXPECT_EQ(parsed.trusted_proxies[i].prefix_bits, defaults.trusted_proxies[i].prefix_bits);
  }
  EXPECT_EQ(parsed.threads, defaults.threads);
  EXPECT_EQ(parsed.db_path, defaults.db_path);
  EXPECT_EQ(parsed.sync_writes, defaults.sync_writes);
  EXPECT_EQ(parsed.ipv6_prefix_bits, defaults.ipv6_prefix_bits);
  EXPECT_EQ(parsed.max_keys_per_client, defaults.max_keys_per_client);
}

TEST_F(FlagsTest, DefaultsAreTheSeedsDefaults) {
  Config config = Accept({});
  EXPECT_EQ(config.max_key_bytes, 100u);
  EXPECT_EQ(config.max_value_bytes, 1000u);
  EXPECT_EQ(config.max_entries, 100000u);
  EXPECT_EQ(config.expire, absl::Hours(2));
  EXPECT_EQ(config.reset, absl::Minutes(1));
  EXPECT_EQ(config.save, absl::Minutes(30));
  EXPECT_EQ(config.max_requests, 11);
  EXPECT_EQ(config.port, 80);
  EXPECT_EQ(config.listen_address, "0.0.0.0");
  EXPECT_FALSE(config.disable_localhost_warning);
}

TEST_F(FlagsTest, AcceptsEveryGoSyntaxForm) {
  EXPECT_EQ(Accept({"-maxKeySize", "10"}).max_key_bytes, 10u);
  EXPECT_EQ(Accept({"-maxKeySize=11"}).max_key_bytes, 11u);
  EXPECT_EQ(Accept({"--maxKeySize=12"}).max_key_bytes, 12u);
  EXPECT_EQ(Accept({"--maxKeySize", "13"}).max_key_bytes, 13u);
}

TEST_F(FlagsTest, SetsEveryFlag) {
  // clang-format off
  Config config = Accept({"-maxKeySize", "50", "-maxValueSize", "2000", "-maxNumKV", "7",
                          "-expireDuration", "10m", "-resetDuration", "30s",
                          "-saveDuration", "5m", "-maxRequests", "20", "-port", "8080",
                          "-l", "127.0.0.1", "-disableLocalIPWaring",
                          "-trustedProxies", "10.0.0.0/8", "-threads", "4", "-db", "/tmp/x.db",
                          "-syncWrites", "-ipv6Prefix", "48", "-maxKeysPerIP", "5"});
  // clang-format on
  EXPECT_EQ(config.max_key_bytes, 50u);
  EXPECT_EQ(config.max_value_bytes, 2000u);
  EXPECT_EQ(config.max_entries, 7u);
  EXPECT_EQ(config.expire, absl::Minutes(10));
  EXPECT_EQ(config.reset, absl::Seconds(30));
  EXPECT_EQ(config.save, absl::Minutes(5));
  EXPECT_EQ(config.max_requests, 20);
  EXPECT_EQ(config.port, 8080);
  EXPECT_EQ(config.listen_address, "127.0.0.1");
  EXPECT_TRUE(config.disable_localhost_warning);
  ASSERT_EQ(config.trusted_proxies.size(), 1u);
  EXPECT_EQ(config.trusted_proxies[0].prefix_bits, 8);
  EXPECT_EQ(config.threads, 4);
  EXPECT_EQ(config.db_path, "/tmp/x.db");
  EXPECT_TRUE(config.sync_writes);
  EXPECT_EQ(config.ipv6_prefix_bits, 48);
  EXPECT_EQ(config.max_keys_per_client, 5u);
}

TEST_F(FlagsTest, TheLastValueOfARepeatedFlagWins) {
  EXPECT_EQ(Accept({"-maxKeySize", "10", "-maxKeySize", "20"}).max_key_bytes, 20u);
}

TEST_F(FlagsTest, EachCallStartsFromTheDefaults) {
  EXPECT_EQ(Accept({"-maxKeySize", "10", "-disableLocalIPWaring"}).max_key_bytes, 10u);
  Config config = Accept({});
  EXPECT_EQ(config.max_key_bytes, 100u);
  EXPECT_FALSE(config.disable_localhost_warning);
}

TEST_F(FlagsTest, ABareBoolFlagIsTrueAndTakesItsValueOnlyAfterEquals) {
  EXPECT_TRUE(Accept({"-disableLocalIPWaring"}).disable_localhost_warning);
  EXPECT_TRUE(Accept({"--disableLocalIPWaring"}).disable_localhost_warning);
  EXPECT_TRUE(Accept({"-disableLocalIPWaring=true"}).disable_localhost_warning);
  EXPECT_FALSE(Accept({"-disableLocalIPWaring=false"}).disable_localhost_warning);
  EXPECT_FALSE(Accept({"--disableLocalIPWaring=false"}).disable_localhost_warning);
  EXPECT_TRUE(Accept({"-syncWrites"}).sync_writes);
}

TEST_F(FlagsTest, ABoolFlagFollowedByASeparateValueIsRefusedWithTheFix) {
  EXPECT_EQ(Refuse({"-disableLocalIPWaring", "false"}),
            "unexpected argument \"false\" after -disableLocalIPWaring: a bool flag takes its "
            "value after '=', write -disableLocalIPWaring=false\n");
}

TEST_F(FlagsTest, ABadBoolValueIsRefused) {
  EXPECT_EQ(Refuse({"-disableLocalIPWaring=maybe"}),
            "invalid boolean value \"maybe\" for -disableLocalIPWaring: want true or false\n");
}

TEST_F(FlagsTest, ParsesGoDurations) {
  EXPECT_EQ(Accept({"-expireDuration", "90s"}).expire, absl::Seconds(90));
  EXPECT_EQ(Accept({"-expireDuration", "1h30m"}).expire, absl::Minutes(90));
  EXPECT_EQ(Accept({"-expireDuration", "1.5h"}).expire, absl::Minutes(90));
  EXPECT_EQ(Accept({"-resetDuration=500ms"}).reset, absl::Milliseconds(500));
  EXPECT_EQ(Accept({"-saveDuration", "2h45m"}).save, absl::Minutes(165));
}

TEST_F(FlagsTest, RefusesADurationWithoutAUnit) {
  EXPECT_THAT(Refuse({"-expireDuration", "3"}),
              StartsWith("invalid value \"3\" for flag -expireDuration: want a number with a "
                         "unit, such as 90s"));
}

TEST_F(FlagsTest, RefusesADurationInDays) {
  EXPECT_THAT(Refuse({"-expireDuration", "1d"}),
              StartsWith("invalid value \"1d\" for flag -expireDuration: "));
}

TEST_F(FlagsTest, RefusesZeroNegativeAndInfiniteDurations) {
  EXPECT_EQ(Refuse({"-expireDuration", "0s"}),
            "-expireDuration must be greater than zero, got 0s\n");
  EXPECT_EQ(Refuse({"-resetDuration", "-1m"}),
            "-resetDuration must be greater than zero, got -1m0s\n");
  EXPECT_THAT(Refuse({"-saveDuration", "inf"}), StartsWith("-saveDuration must be a finite"));
}

TEST_F(FlagsTest, RefusesMaxRequestsTwoBecauseAPostCouldNeverPass) {
  EXPECT_THAT(Refuse({"-maxRequests", "2"}),
              StartsWith("-maxRequests must be at least 3, got 2 (a POST costs 3 tokens"));
}

TEST_F(FlagsTest, TakesAThousandRequestsWithoutAnEightBitWrap) {
  EXPECT_EQ(Accept({"-maxRequests", "1000"}).max_requests, 1000);
  EXPECT_EQ(Accept({"-maxRequests", "256"}).max_requests, 256);
}

TEST_F(FlagsTest, RefusesNegativeZeroAndOversizeSizes) {
  EXPECT_EQ(Refuse({"-maxKeySize", "-5"}),
            "invalid value \"-5\" for flag -maxKeySize: want a positive whole number\n");
  EXPECT_THAT(Refuse({"-maxKeySize", "0"}),
              StartsWith("-maxKeySize must be between 1 and 2048, got 0"));
  EXPECT_THAT(Refuse({"-maxKeySize", "2049"}), HasSubstr("8 KiB request line"));
  EXPECT_THAT(Refuse({"-maxValueSize", "0"}), StartsWith("-maxValueSize must be between"));
  EXPECT_THAT(Refuse({"-maxNumKV", "0"}), StartsWith("-maxNumKV must be between"));
  EXPECT_EQ(Refuse({"-maxNumKV", "99999999999999999999999"}),
            "invalid value \"99999999999999999999999\" for flag -maxNumKV: value out of range\n");
}

TEST_F(FlagsTest, RefusesANonNumericInteger) {
  EXPECT_EQ(Refuse({"-maxRequests", "abc"}),
            "invalid value \"abc\" for flag -maxRequests: want a whole number\n");
}

TEST_F(FlagsTest, AcceptsNumericPortsIncludingZero) {
  EXPECT_EQ(Accept({"-port", "8080"}).port, 8080);
  EXPECT_EQ(Accept({"-port", "0"}).port, 0);
  EXPECT_EQ(Accept({"-port", "65535"}).port, 65535);
}

TEST_F(FlagsTest, RefusesAPortThatIsNotANumberFrom0To65535) {
  EXPECT_EQ(Refuse({"-port", "abc"}),
            "invalid value \"abc\" for flag -port: want a port number from 0 to 65535 (0 picks a "
            "free port)\n");
  EXPECT_THAT(Refuse({"-port", "70000"}), StartsWith("invalid value \"70000\" for flag -port"));
  EXPECT_THAT(Refuse({"-port", "-1"}), StartsWith("invalid value \"-1\" for flag -port"));
  EXPECT_THAT(Refuse({"-port="}), StartsWith("invalid value \"\" for flag -port"));
  EXPECT_THAT(Refuse({"-port", "http"}), StartsWith("invalid value \"http\" for flag -port"));
}

TEST_F(FlagsTest, AdminListenerIsOffByDefaultAndTakesIpv4OrBracketedIpv6) {
  EXPECT_FALSE(Accept({}).has_admin_listener);
  EXPECT_EQ(Accept({}).access_log_path, "");
  Config v4 = Accept({"-adminListen", "127.0.0.1:9090"});
  EXPECT_TRUE(v4.has_admin_listener);
  EXPECT_EQ(v4.admin_ip.ToString(), "127.0.0.1");
  EXPECT_EQ(v4.admin_port, 9090);
  Config v6 = Accept({"-adminListen=[::1]:0"});
  EXPECT_EQ(v6.admin_ip.ToString(), "::1");
  EXPECT_EQ(v6.admin_port, 0);
  EXPECT_EQ(Accept({"-accessLog", "-"}).access_log_path, "-");
}

TEST_F(FlagsTest, RefusesAMalformedAdminListenAddress) {
  for (const char* bad : {"9090", "localhost:9090", "::1:9090", "[127.0.0.1]:9090",
                          "127.0.0.1:", "127.0.0.1:70000"}) {
    EXPECT_THAT(Refuse({"-adminListen", bad}),
                StartsWith("invalid value \"" + std::string(bad) + "\" for flag -adminListen"))
        << bad;
  }
}

TEST_F(FlagsTest, RefusesAnAdminListenerOnThePublicAddressAndPort) {
  EXPECT_EQ(Refuse({"-port", "8080", "-adminListen", "127.0.0.1:8080"}),
            "invalid value \"127.0.0.1:8080\" for flag -adminListen: it is the public address and "
            "port (-l, -port, -tlsPort); give the admin listener a port of its own\n");
  EXPECT_THAT(Refuse({"-l", "127.0.0.1", "-port", "80", "-adminListen", "127.0.0.1:80"}),
              HasSubstr("public address and port"));
  EXPECT_THAT(Refuse({"-tlsCert", "c.pem", "-tlsKey", "k.pem", "-tlsPort", "8443", "-adminListen",
                      "0.0.0.0:8443"}),
              HasSubstr("public address and port"));
  // Another port, or another address when neither is a wildcard, is fine.
  EXPECT_TRUE(Accept({"-port", "8080", "-adminListen", "127.0.0.1:9090"}).has_admin_listener);
  EXPECT_TRUE(Accept({"-l", "127.0.0.2", "-port", "8080", "-adminListen", "127.0.0.1:8080"})
                  .has_admin_listener);
}

TEST_F(FlagsTest, ListensOnIpv4AndIpv6Addresses) {
  Config any = Accept({"-l", "0.0.0.0"});
  EXPECT_EQ(any.listen_address, "0.0.0.0");
  EXPECT_TRUE(any.listen_ip.is_v4());
  Config loopback6 = Accept({"-l", "::1"});
  EXPECT_EQ(loopback6.listen_address, "::1");
  EXPECT_FALSE(loopback6.listen_ip.is_v4());
  EXPECT_TRUE(loopback6.listen_ip.IsLoopback());
}

TEST_F(FlagsTest, RefusesAHostNameForTheListenAddress) {
  EXPECT_EQ(Refuse({"-l", "localhost"}),
            "invalid value \"localhost\" for flag -l: want an IP address such as 0.0.0.0 or ::1 "
            "(an address, not a host name)\n");
  EXPECT_THAT(Refuse({"-l", "[::1]"}), StartsWith("invalid value \"[::1]\" for flag -l"));
  EXPECT_THAT(Refuse({"-l", ""}), StartsWith("invalid value \"\" for flag -l"));
}

TEST_F(FlagsTest, ParsesTrustedProxies) {
  Config config = Accept({"-trustedProxies", "10.0.0.0/8, ::1"});
  ASSERT_EQ(config.trusted_proxies.size(), 2u);
  EXPECT_EQ(config.trusted_proxies[0].prefix_bits, 8);
  EXPECT_EQ(config.trusted_proxies[1].prefix_bits, 128);
}

TEST_F(FlagsTest, AnEmptyTrustedProxiesListTrustsNobody) {
  EXPECT_TRUE(Accept({"-trustedProxies", ""}).trusted_proxies.empty());
  EXPECT_TRUE(Accept({"-trustedProxies="}).trusted_proxies.empty());
}

TEST_F(FlagsTest, RefusesAMalformedTrustedProxy) {
  EXPECT_THAT(Refuse({"-trustedProxies", "10.0.0.0/8,10.0.0.0/40"}),
              StartsWith("invalid value \"10.0.0.0/8,10.0.0.0/40\" for flag -trustedProxies: "
                         "not a CIDR block or address: \"10.0.0.0/40\""));
}

TEST_F(FlagsTest, RefusesThreadsAndIpv6PrefixOutOfRange) {
  EXPECT_EQ(Accept({"-threads", "256"}).threads, 256);
  EXPECT_THAT(Refuse({"-threads", "257"}), StartsWith("-threads must be between"));
  EXPECT_THAT(Refuse({"-threads", "-1"}), StartsWith("-threads must be between"));
  EXPECT_THAT(Refuse({"-ipv6Prefix", "0"}), StartsWith("-ipv6Prefix must be between 1 and 128"));
  EXPECT_THAT(Refuse({"-ipv6Prefix", "129"}), StartsWith("-ipv6Prefix must be between"));
  EXPECT_THAT(Refuse({"-maxKeysPerIP", "-1"}), HasSubstr("-maxKeysPerIP"));
}

TEST_F(FlagsTest, AnEmptyDbPathSelectsTheMemoryEngine) {
  EXPECT_EQ(Accept({"-db", ""}).db_path, "");
  EXPECT_EQ(Accept({"-db="}).db_path, "");
}

TEST_F(FlagsTest, ARedisUrlSelectsTheRedisEngine) {
  const Config tcp = Accept({"-db", "redis://:pw@10.0.0.5:6380/3"});
  ASSERT_TRUE(tcp.redis.has_value());
  EXPECT_EQ(tcp.redis->host, "10.0.0.5");
  EXPECT_EQ(tcp.redis->port, 6380);
  EXPECT_EQ(tcp.redis->password, "pw");
  EXPECT_EQ(tcp.redis->db, 3u);
  EXPECT_EQ(StoreDescription(tcp), "redis redis://10.0.0.5:6380/3");  // no password
  const Config unix_socket = Accept({"-db=unix:///run/redis.sock?db=1"});
  ASSERT_TRUE(unix_socket.redis.has_value());
  EXPECT_EQ(unix_socket.redis->path, "/run/redis.sock");
  EXPECT_FALSE(Accept({"-db", "./redis://x"}).redis.has_value());  // a file, by its path
  EXPECT_FALSE(Accept({"-db", "store.db"}).redis.has_value());
}

TEST_F(FlagsTest, ABadRedisUrlIsAFlagErrorThatNeverEchoesThePassword) {
  EXPECT_EQ(Refuse({"-db", "redis://:hunter2@host:99999"}),
            "invalid value \"redis://...@host:99999\" for flag -db: "
            "the port is not a number from 1 to 65535\n");
  EXPECT_THAT(Refuse({"-db", "http://host:6379"}), HasSubstr("for flag -db: "));
}

TEST_F(FlagsTest, OnRedisKeysMayBeLongerThanLmdbAllows) {
  EXPECT_EQ(Accept({"-db", "redis://h:1", "-maxKeySize", "2000"}).max_key_bytes, 2000u);
}

TEST_F(FlagsTest, AnUnknownFlagExitsWithTwoAndAHint) {
  EXPECT_EQ(Refuse({"-nosuch", "1"}),
            "flag provided but not defined: -nosuch\n"
            "Run 'rendezvous-server -h' to list the flags.\n");
  EXPECT_THAT(Refuse({"--nosuch=1"}), StartsWith("flag provided but not defined: -nosuch\n"));
}

TEST_F(FlagsTest, AnUnknownFlagCloseToAKnownOneGetsASuggestion) {
  EXPECT_THAT(Refuse({"-disableLocalIPWarning"}),
              HasSubstr("\nDid you mean -disableLocalIPWaring? Run"));
  EXPECT_THAT(Refuse({"-maxkeysize", "5"}), HasSubstr("Did you mean -maxKeySize?"));
  EXPECT_THAT(Refuse({"-x"}), Not(HasSubstr("Did you mean")));
}

TEST_F(FlagsTest, AbseilsOwnFlagsAreUnknownHere) {
  EXPECT_THAT(Refuse({"--helpfull"}), StartsWith("flag provided but not defined: -helpfull"));
  EXPECT_THAT(Refuse({"--flagfile=/dev/null"}),
              StartsWith("flag provided but not defined: -flagfile"));
}

TEST_F(FlagsTest, AFlagWithoutItsValueIsRefused) {
  EXPECT_THAT(Refuse({"-maxKeySize"}), StartsWith("flag needs an argument: -maxKeySize\n"));
}

TEST_F(FlagsTest, TheNextArgumentIsAValueEvenWhenItStartsWithADash) {
  EXPECT_THAT(Refuse({"-maxRequests", "-1"}), StartsWith("-maxRequests must be at least 3"));
}

TEST_F(FlagsTest, RefusesBadFlagSyntax) {
  EXPECT_THAT(Refuse({"---maxKeySize=5"}), StartsWith("bad flag syntax: ---maxKeySize=5\n"));
  EXPECT_THAT(Refuse({"-=5"}), StartsWith("bad flag syntax: -=5\n"));
}

TEST_F(FlagsTest, RefusesAPositionalArgument) {
  EXPECT_EQ(Refuse({"serve"}),
            "unexpected argument \"serve\": the server takes only flags, written -name value or "
            "-name=value\n");
  EXPECT_THAT(Refuse({"-maxKeySize", "5", "-"}), StartsWith("unexpected argument \"-\""));
}

TEST_F(FlagsTest, DoubleDashEndsTheFlags) {
  EXPECT_EQ(Accept({"-maxKeySize", "5", "--"}).max_key_bytes, 5u);
  EXPECT_THAT(Refuse({"--", "-maxKeySize"}), StartsWith("unexpected argument \"-maxKeySize\""));
}

TEST_F(FlagsTest, HelpPrintsTheUsageAndExitsWithZero) {
  for (std::string help : {"-h", "-help", "--help", "--h", "-h=1"}) {
    FlagsResult result = Parse({help});
    EXPECT_FALSE(result.config.has_value()) << help;
    EXPECT_EQ(result.exit_code, 0) << help;
    EXPECT_THAT(result.output, StartsWith("Usage of rendezvous-server:\n")) << help;
  }
}

TEST_F(FlagsTest, VersionPrintsTheBuildsVersionAndExitsWithZero) {
  for (std::string version : {"-version", "--version", "-version=true"}) {
    FlagsResult result = Parse({version});
    EXPECT_FALSE(result.config.has_value()) << version;
    EXPECT_EQ(result.exit_code, 0) << version;
    EXPECT_EQ(result.output, "rendezvous-server " + std::string(common::Version()) + "\n");
  }
  EXPECT_THAT(std::string(common::Version()), MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+.*"));
}

TEST_F(FlagsTest, VersionIsPrintedWhateverTheOtherValuesAreOnceAllFlagsParse) {
  EXPECT_EQ(Parse({"-maxRequests", "2", "-version"}).exit_code, 0);
  EXPECT_THAT(Refuse({"-version", "-nosuch"}), StartsWith("flag provided but not defined"));
  EXPECT_TRUE(Accept({"-version=false"}).port == 80);
}

TEST_F(FlagsTest, HelpListsEveryFlag) {
  std::string usage = Parse({"-h"}).output;
  for (std::string name :
       {"maxKeySize", "maxValueSize", "maxNumKV", "expireDuration", "resetDuration", "saveDuration",
        "maxRequests", "port", "l", "disableLocalIPWaring", "trustedProxies", "threads", "db",
        "syncWrites", "ipv6Prefix", "maxConnections", "maxConnectionsPerIP", "maxKeysPerIP",
        "version"}) {
    std::string entry = "\n  -" + name;
    size_t at = usage.find(entry);
    ASSERT_NE(at, std::string::npos) << name;
    // The name is whole: followed by its type, or for a bool by its description.
    EXPECT_NE(std::string(" \n\t").find(usage[at + entry.size()]), std::string::npos) << name;
  }
}

TEST_F(FlagsTest, HelpHasTheShapeOfGosUsage) {
  std::string usage = Usage("rendezvous-server");
  // Lines as the original printed them.
  EXPECT_THAT(usage, HasSubstr("\n  -disableLocalIPWaring\n"
                               "    \tdisable warnings about requests from localhost\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -expireDuration duration\n"
                               "    \tduration after which a key expires (default 2h0m0s)\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -maxKeySize int\n"
                               "    \tmaximum allowed key length in bytes (default 100)\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -maxRequests int\n"
                               "    \tmaximum request tokens per IP per resetDuration (POST=3 "
                               "tokens, GET=1 token) (default 11)\n"));
  EXPECT_THAT(usage, HasSubstr("(default 1m0s)\n"));
  EXPECT_THAT(usage, HasSubstr("(default 30m0s)\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -port string\n"));
  EXPECT_THAT(usage, HasSubstr("(default \"80\")\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -l string\n"));
  EXPECT_THAT(usage, HasSubstr("(default \"0.0.0.0\")\n"));
  // Go leaves out zero defaults.
  EXPECT_THAT(usage, Not(HasSubstr("(default false)")));
  EXPECT_THAT(usage, Not(HasSubstr("(default 0)")));
  // Sorted by name, as Go does.
  EXPECT_LT(usage.find("-db "), usage.find("-disableLocalIPWaring"));
  EXPECT_LT(usage.find("-maxKeySize"), usage.find("-maxNumKV"));
  EXPECT_LT(usage.find("-saveDuration"), usage.find("-syncWrites"));
}

}  // namespace
}  // namespace rendezvous::app

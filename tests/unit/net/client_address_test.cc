#include "net/client_address.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace rendezvous::net {
namespace {

using common::CidrBlock;
using common::IpAddress;

IpAddress Ip(std::string_view text) { return *IpAddress::Parse(text); }

// A chain of proxies on a private network in front of a local one: loopback and the private
// ranges, as an operator would set -trustedProxies for it.
ProxyPolicy LanPolicy() {
  return ProxyPolicy{
      *ParseCidrList("127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1,fc00::/7", nullptr)};
}

// Resolves with LanPolicy() and returns the client's canonical text.
std::string Resolve(std::string_view peer, std::vector<std::string_view> lines) {
  return ResolveClient(Ip(peer), lines, LanPolicy()).client.ToString();
}

TEST(ProxyPolicyTest, DefaultTrustsLoopbackOnly) {
  const ProxyPolicy policy = ProxyPolicy::Default();
  ASSERT_EQ(policy.trusted.size(), 2u);
  for (std::string_view trusted : {"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(policy.IsTrusted(Ip(trusted))) << trusted;
  }
  // A peer on a LAN, a mesh network or a container bridge must not pick its own address.
  for (std::string_view untrusted :
       {"10.0.0.1", "172.16.0.1", "192.168.1.1", "fc00::1", "fd12:3456::1", "::ffff:10.0.0.1",
        "1.2.3.4", "128.0.0.1", "::2", "fe80::1", "2001:db8::1", "::", "0.0.0.0"}) {
    EXPECT_FALSE(policy.IsTrusted(Ip(untrusted))) << untrusted;
  }
}

TEST(ProxyPolicyTest, DefaultIgnoresForwardedForFromAPrivatePeer) {
  ClientResolution resolution =
      ResolveClient(Ip("192.168.1.20"), {{"203.0.113.7"}}, ProxyPolicy::Default());
  EXPECT_EQ(resolution.client, Ip("192.168.1.20"));
  EXPECT_FALSE(resolution.forwarded);
}

TEST(ProxyPolicyTest, LanPolicyTrustsThePrivateRanges) {
  const ProxyPolicy policy = LanPolicy();
  for (std::string_view trusted : {"10.255.255.255", "172.31.255.255", "192.168.1.1", "fd00::5"}) {
    EXPECT_TRUE(policy.IsTrusted(Ip(trusted))) << trusted;
  }
  for (std::string_view untrusted : {"172.32.0.1", "172.15.255.255", "192.169.0.1", "11.0.0.1"}) {
    EXPECT_FALSE(policy.IsTrusted(Ip(untrusted))) << untrusted;
  }
}

TEST(ProxyPolicyTest, EmptyPolicyTrustsNobody) {
  EXPECT_FALSE(ProxyPolicy{}.IsTrusted(Ip("127.0.0.1")));
}

TEST(ParseCidrListTest, ParsesTrimmedCommaSeparatedBlocks) {
  std::string error;
  auto blocks = ParseCidrList(" 10.0.0.0/8 ,\t::1, 203.0.113.7 ", &error);
  ASSERT_TRUE(blocks.has_value()) << error;
  ASSERT_EQ(blocks->size(), 3u);
  EXPECT_EQ((*blocks)[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ((*blocks)[1].ToString(), "::1/128");
  EXPECT_EQ((*blocks)[2].ToString(), "203.0.113.7/32");
}

TEST(ParseCidrListTest, EmptyStringMeansTrustNobody) {
  std::string error;
  auto blocks = ParseCidrList("", &error);
  ASSERT_TRUE(blocks.has_value());
  EXPECT_TRUE(blocks->empty());
  blocks = ParseCidrList("  ", &error);
  ASSERT_TRUE(blocks.has_value());
  EXPECT_TRUE(blocks->empty());
}

TEST(ParseCidrListTest, RejectsMalformedAndEmptyEntriesNamingThem) {
  std::string error;
  EXPECT_FALSE(ParseCidrList("10.0.0.0/8,10.0.0.0/33", &error).has_value());
  EXPECT_NE(error.find("10.0.0.0/33"), std::string::npos) << error;
  EXPECT_FALSE(ParseCidrList("10.0.0.0/8,,::1", &error).has_value());
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  EXPECT_FALSE(ParseCidrList("10.0.0.0/8,", nullptr).has_value());
  EXPECT_FALSE(ParseCidrList("localhost", nullptr).has_value());
}

TEST(ResolveClientTest, WithoutForwardedForThePeerIsTheClient) {
  ClientResolution resolution = ResolveClient(Ip("127.0.0.1"), {}, ProxyPolicy::Default());
  EXPECT_EQ(resolution.client, Ip("127.0.0.1"));
  EXPECT_FALSE(resolution.forwarded);
  EXPECT_EQ(Resolve("203.0.113.9", {}), "203.0.113.9");
}

TEST(ResolveClientTest, UntrustedPeerIgnoresForwardedFor) {
  ClientResolution resolution =
      ResolveClient(Ip("203.0.113.9"), {{"1.2.3.4"}}, ProxyPolicy::Default());
  EXPECT_EQ(resolution.client, Ip("203.0.113.9"));
  EXPECT_FALSE(resolution.forwarded);
  EXPECT_EQ(Resolve("2001:db8::9", {"1.2.3.4"}), "2001:db8::9");
}

TEST(ResolveClientTest, TrustedPeerForwardsAnIpv4Client) {
  ClientResolution resolution =
      ResolveClient(Ip("10.1.1.1"), {{"1.2.3.4"}}, LanPolicy());
  EXPECT_EQ(resolution.client, Ip("1.2.3.4"));
  EXPECT_TRUE(resolution.forwarded);
}

TEST(ResolveClientTest, TrustedPeerForwardsIpv6AndMappedClients) {
  EXPECT_EQ(Resolve("::1", {"2001:DB8:0:0:1::1"}), "2001:db8::1:0:0:1");
  EXPECT_EQ(Resolve("127.0.0.1", {"::ffff:1.2.3.4"}), "1.2.3.4");
  EXPECT_EQ(Resolve("fd00::5", {"198.51.100.1"}), "198.51.100.1");
}

TEST(ResolveClientTest, SkipsAChainOfTrustedProxiesFromTheRight) {
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4, 10.0.0.2, 192.168.0.3"}), "1.2.3.4");
  // Entries left of the first untrusted one were written by the client and are ignored.
  EXPECT_EQ(Resolve("127.0.0.1", {"6.6.6.6, 1.2.3.4, 10.0.0.2"}), "1.2.3.4");
}

TEST(ResolveClientTest, AllTrustedChainGivesTheLeftMostTrustedHop) {
  ClientResolution resolution =
      ResolveClient(Ip("127.0.0.1"), {{"192.168.0.9, 10.0.0.2"}}, LanPolicy());
  EXPECT_EQ(resolution.client, Ip("192.168.0.9"));
  EXPECT_TRUE(resolution.forwarded);
}

TEST(ResolveClientTest, MalformedEntryStopsTheWalkAtTheLastTrustedHop) {
  // Right-most entry malformed: the peer is the client.
  for (std::string_view garbage : {"unknown", "1.2.3.4:5555", "001.2.3.4", "[::1]",
                                   "1.2.3.4 5.6.7.8", "fe80::1%eth0", "for=1.2.3.4", "\xff"}) {
    ClientResolution resolution =
        ResolveClient(Ip("127.0.0.1"), {{garbage}}, ProxyPolicy::Default());
    EXPECT_EQ(resolution.client, Ip("127.0.0.1")) << garbage;
    EXPECT_FALSE(resolution.forwarded) << garbage;
  }
  // Malformed behind a skipped trusted entry: that entry is the client.
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4, unknown, 10.0.0.2"}), "10.0.0.2");
}

TEST(ResolveClientTest, EmptyEntryStopsTheWalk) {
  EXPECT_EQ(Resolve("127.0.0.1", {""}), "127.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {"  "}), "127.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4,"}), "127.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4, ,10.0.0.1"}), "10.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {",1.2.3.4"}), "1.2.3.4");
}

TEST(ResolveClientTest, TrimsSpacesAndTabsOnly) {
  EXPECT_EQ(Resolve("127.0.0.1", {"\t 1.2.3.4 \t"}), "1.2.3.4");
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4\r"}), "127.0.0.1");
}

TEST(ResolveClientTest, JoinsMultipleLinesInOrder) {
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4", "10.0.0.2"}), "1.2.3.4");
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4, 10.0.0.2", "192.168.0.1, 10.0.0.3"}), "1.2.3.4");
  EXPECT_EQ(Resolve("127.0.0.1", {"5.5.5.5", "garbage", "10.0.0.2"}), "10.0.0.2");
  EXPECT_EQ(Resolve("127.0.0.1", {"5.5.5.5", "", "10.0.0.2"}), "10.0.0.2");
}

TEST(ResolveClientTest, LooksAtMostAtThirtyTwoEntries) {
  std::string chain = "1.2.3.4";
  for (int i = 0; i < kMaxForwardedEntries; ++i) chain += ", 10.0.0." + std::to_string(i + 1);
  // 33 entries: the client would be the 33rd from the right, beyond the bound, so the walk
  // stops at the 32nd (trusted) entry, 10.0.0.1.
  EXPECT_EQ(Resolve("127.0.0.1", {chain}), "10.0.0.1");
  std::string within = "1.2.3.4";
  for (int i = 0; i < kMaxForwardedEntries - 1; ++i) within += ", 10.0.0." + std::to_string(i + 1);
  EXPECT_EQ(Resolve("127.0.0.1", {within}), "1.2.3.4");
}

TEST(ResolveClientTest, HugeHostileHeaderIsHandledWithinTheBound) {
  std::string hostile;
  for (int i = 0; i < 100'000; ++i) hostile += "10.0.0.1,";
  hostile += "10.0.0.1";
  std::vector<std::string_view> lines(100, hostile);
  EXPECT_EQ(Resolve("127.0.0.1", lines), "10.0.0.1");
}

TEST(ResolveClientTest, UsesTheConfiguredPolicy) {
  ProxyPolicy policy{*ParseCidrList("203.0.113.0/24", nullptr)};
  EXPECT_EQ(ResolveClient(Ip("203.0.113.5"), {{"10.0.0.1"}}, policy).client, Ip("10.0.0.1"));
  EXPECT_EQ(ResolveClient(Ip("127.0.0.1"), {{"1.2.3.4"}}, policy).client, Ip("127.0.0.1"));
  ProxyPolicy nobody{*ParseCidrList("", nullptr)};
  EXPECT_EQ(ResolveClient(Ip("127.0.0.1"), {{"1.2.3.4"}}, nobody).client, Ip("127.0.0.1"));
}

// What the original server answered a client on 127.0.0.1, and what we answer instead.
TEST(ResolveClientTest, AnswersTheOriginalServersCasesOurWay) {
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4"}), "1.2.3.4");
  // The original took the left-most parseable entry (5.6.7.8): the client's choice.
  EXPECT_EQ(Resolve("127.0.0.1", {"garbage, 5.6.7.8, 9.9.9.9"}), "9.9.9.9");
  EXPECT_EQ(Resolve("127.0.0.1", {"   10.0.0.1  "}), "10.0.0.1");  // trusted, so the last hop
  EXPECT_EQ(Resolve("127.0.0.1", {"2001:db8::1"}), "2001:db8::1");  // the original: 400
  EXPECT_EQ(Resolve("127.0.0.1", {"::ffff:1.2.3.4"}), "1.2.3.4");   // one address namespace
  EXPECT_EQ(Resolve("127.0.0.1", {"unknown"}), "127.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {"1.2.3.4:5555"}), "127.0.0.1");
  EXPECT_EQ(Resolve("127.0.0.1", {"001.2.3.4"}), "127.0.0.1");
  // X-Real-IP and Forwarded are never passed in; nothing to resolve.
  EXPECT_EQ(Resolve("127.0.0.1", {}), "127.0.0.1");
  // Several header lines are one list: the right-most entry of the last line is read first.
  EXPECT_EQ(Resolve("127.0.0.1", {"11.11.11.11", "12.12.12.12"}), "12.12.12.12");
}

}  // namespace
}  // namespace rendezvous::net

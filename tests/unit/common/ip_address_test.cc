#include "common/ip_address.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace rendezvous::common {
namespace {

std::string Canonical(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  if (!address) return "<invalid>";
  return address->ToString();
}

TEST(IpAddressTest, ParsesDottedQuadAsIpv4) {
  std::optional<IpAddress> address = IpAddress::Parse("1.2.3.4");
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(address->is_v4());
  EXPECT_EQ(*address, IpAddress::FromV4(0x01020304));
  EXPECT_EQ(address->ToString(), "1.2.3.4");
  EXPECT_EQ(Canonical("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(Canonical("255.255.255.255"), "255.255.255.255");
}

TEST(IpAddressTest, RejectsAnythingButTheStrictIpv4Form) {
  for (std::string_view text :
       {"", "001.2.3.4", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:5555",
        " 1.2.3.4", "1.2.3.4 ", "0x1.2.3.4", "1.2.3.-4", "unknown", "1.2.3.4/8", "+1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::Parse(text).has_value()) << text;
  }
}

// The dotted quad is parsed by hand; glibc's inet_pton(AF_INET) is the reference for which
// strings are addresses. Every octet value 0..999 with and without leading zeros in each place,
// then strings of digits, dots and a few other bytes from a fixed pseudo-random sequence.
TEST(IpAddressTest, AcceptsExactlyTheDottedQuadsGlibcAccepts) {
  auto check = [](const std::string& text) {
    uint8_t glibc[4];
    const bool glibc_ok = inet_pton(AF_INET, text.c_str(), glibc) == 1;
    const std::optional<IpAddress> ours = IpAddress::Parse(text);
    ASSERT_EQ(ours.has_value(), glibc_ok) << '"' << text << '"';
    if (glibc_ok) {
      EXPECT_EQ(*ours, IpAddress::FromV4(uint32_t{glibc[0]} << 24 | uint32_t{glibc[1]} << 16 |
                                         uint32_t{glibc[2]} << 8 | glibc[3]))
          << text;
    }
  };
  for (int place = 0; place < 4; ++place) {
    for (int value = 0; value < 1000; ++value) {
      for (const char* format : {"%d", "%02d", "%03d", "%04d"}) {
        char octet[8];
        std::snprintf(octet, sizeof(octet), format, value);
        std::string text;
        for (int i = 0; i < 4; ++i) {
          if (i > 0) text += '.';
          text += i == place ? octet : "7";
        }
        check(text);
      }
    }
  }
  constexpr std::string_view kAlphabet = "0123456789....  x:-+\t";
  uint64_t state = 0x9e3779b97f4a7c15;
  for (int n = 0; n < 200000; ++n) {
    state = state * 6364136223846793005 + 1442695040888963407;
    const size_t length = (state >> 33) % 17;
    std::string text;
    for (size_t i = 0; i < length; ++i) {
      state = state * 6364136223846793005 + 1442695040888963407;
      // Mostly digits and dots, so that many strings are near-misses of a valid quad.
      const size_t pick = (state >> 33) % 100;
      text += pick < 70 ? kAlphabet[pick % 10] : pick < 95 ? '.' : kAlphabet[10 + pick % 11];
    }
    if (text.find(':') != std::string::npos) continue;  // IPv6 syntax: not this parser's
    check(text);
  }
}

TEST(IpAddressTest, RejectsEmbeddedNulBytes) {
  EXPECT_FALSE(IpAddress::Parse(std::string_view("1.2.3.4\0junk", 12)).has_value());
  EXPECT_FALSE(IpAddress::Parse(std::string_view("::1\0", 4)).has_value());
}

TEST(IpAddressTest, ParsesIpv6) {
  std::optional<IpAddress> address = IpAddress::Parse("2001:db8::1");
  ASSERT_TRUE(address.has_value());
  EXPECT_FALSE(address->is_v4());
  EXPECT_EQ(address->bytes()[0], 0x20);
  EXPECT_EQ(address->bytes()[1], 0x01);
  EXPECT_EQ(address->bytes()[15], 0x01);
  EXPECT_EQ(address->ToString(), "2001:db8::1");
}

TEST(IpAddressTest, RejectsBracketsZoneIdsPortsAndSpacesInIpv6) {
  for (std::string_view text :
       {"[::1]", "[::1]:80", "fe80::1%eth0", "fe80::1%1", " ::1", "::1 ", "1::2::3",
        ":::", "00001::", "1:2:3:4:5:6:7:8:9", "::ffff:001.2.3.4", "::g", "::1/128"}) {
    EXPECT_FALSE(IpAddress::Parse(text).has_value()) << text;
  }
}

TEST(IpAddressTest, Ipv4MappedIpv6IsTheIpv4Address) {
  std::optional<IpAddress> mapped = IpAddress::Parse("::ffff:1.2.3.4");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->is_v4());
  EXPECT_EQ(*mapped, *IpAddress::Parse("1.2.3.4"));
  EXPECT_EQ(mapped->ToString(), "1.2.3.4");
  EXPECT_EQ(Canonical("::FFFF:102:304"), "1.2.3.4");
  EXPECT_EQ(Canonical("0:0:0:0:0:ffff:7f00:1"), "127.0.0.1");

  IpAddress::Bytes bytes{};
  bytes[10] = bytes[11] = 0xff;
  bytes[12] = 10;
  bytes[15] = 7;
  EXPECT_TRUE(IpAddress::FromV6(bytes).is_v4());
  EXPECT_EQ(IpAddress::FromV6(bytes).ToString(), "10.0.0.7");
}

TEST(IpAddressTest, DefaultIsTheIpv6UnspecifiedAddress) {
  EXPECT_FALSE(IpAddress().is_v4());
  EXPECT_EQ(IpAddress().ToString(), "::");
  EXPECT_EQ(IpAddress(), *IpAddress::Parse("::"));
}

TEST(IpAddressTest, PrintsIpv6AsRfc5952) {
  EXPECT_EQ(Canonical("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  // A single zero group is not compressed.
  EXPECT_EQ(Canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(Canonical("2001:DB8::ABCD"), "2001:db8::abcd");
  EXPECT_EQ(Canonical("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  // Longest run wins; on a tie the first run does.
  EXPECT_EQ(Canonical("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  EXPECT_EQ(Canonical("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
  EXPECT_EQ(Canonical("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(Canonical("0:1:2:3:4:5:6:7"), "0:1:2:3:4:5:6:7");
  EXPECT_EQ(Canonical("1:0:0:0:0:0:0:0"), "1::");
  EXPECT_EQ(Canonical("0:0:0:0:0:1:0:0"), "::1:0:0");
  EXPECT_EQ(Canonical("::1"), "::1");
  EXPECT_EQ(Canonical("fe80::"), "fe80::");
}

TEST(IpAddressTest, PrintsIpv4CompatibleAndTranslatedAddressesInHexUnlikeGlibc) {
  // glibc's inet_ntop writes these as "::0.1.0.2" and "::1.2.3.4" (deprecated IPv4-compatible
  // form); RFC 5952 recommends dotted notation only for known embeddings such as ::ffff:0:0/96.
  EXPECT_EQ(Canonical("::1:2"), "::1:2");
  EXPECT_EQ(Canonical("::1.2.3.4"), "::102:304");
  EXPECT_EQ(Canonical("64:ff9b::1.2.3.4"), "64:ff9b::102:304");
  EXPECT_EQ(Canonical("::ffff:0:1.2.3.4"), "::ffff:0:102:304");
}

TEST(IpAddressTest, AgreesWithGlibcWheneverGlibcUsesHexNotation) {
  for (std::string_view text :
       {"::1", "::", "2001:db8::1:0:0:1", "2001:db8:0:1:1:1:1:1", "1:0:0:2:0:0:0:3", "fe80::1:2",
        "1::", "1:2:3:4:5:6:7:8", "0:0:1::", "a:b:c:d:e:f:0:0", "ff02::1:ff00:1"}) {
    std::optional<IpAddress> address = IpAddress::Parse(text);
    ASSERT_TRUE(address.has_value()) << text;
    char glibc[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, address->bytes().data(), glibc, sizeof(glibc)), nullptr);
    EXPECT_EQ(address->ToString(), glibc) << text;
  }
}

TEST(IpAddressTest, RecognisesLoopback) {
  EXPECT_TRUE(IpAddress::Parse("127.0.0.1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("127.255.1.2")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::ffff:127.0.0.1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("128.0.0.1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("::2")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("::")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1")->IsLoopback());
}

TEST(IpAddressTest, MaskedClearsHostBitsAndCountsIpv4BitsForIpv4) {
  EXPECT_EQ(IpAddress::Parse("10.1.2.3")->Masked(8).ToString(), "10.0.0.0");
  EXPECT_EQ(IpAddress::Parse("172.31.255.255")->Masked(12).ToString(), "172.16.0.0");
  EXPECT_EQ(IpAddress::Parse("10.1.2.3")->Masked(0).ToString(), "0.0.0.0");
  EXPECT_EQ(IpAddress::Parse("10.1.2.3")->Masked(32).ToString(), "10.1.2.3");
  EXPECT_TRUE(IpAddress::Parse("10.1.2.3")->Masked(0).is_v4());
  EXPECT_EQ(IpAddress::Parse("2001:db8:1:2:3:4:5:6")->Masked(64).ToString(), "2001:db8:1:2::");
  EXPECT_EQ(IpAddress::Parse("2001:db8:1:2:3:4:5:6")->Masked(36).ToString(), "2001:db8::");
  EXPECT_EQ(IpAddress::Parse("ffff::1")->Masked(7).ToString(), "fe00::");
  EXPECT_EQ(IpAddress::Parse("2001:db8::1")->Masked(128).ToString(), "2001:db8::1");
  // Out-of-range prefixes are clamped.
  EXPECT_EQ(IpAddress::Parse("2001:db8::1")->Masked(-5).ToString(), "::");
  EXPECT_EQ(IpAddress::Parse("10.1.2.3")->Masked(99).ToString(), "10.1.2.3");
}

TEST(CidrBlockTest, ParsesBlocksAndBareAddresses) {
  std::optional<CidrBlock> v4 = CidrBlock::Parse("10.0.0.0/8");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->prefix_bits, 8);
  EXPECT_EQ(v4->ToString(), "10.0.0.0/8");

  std::optional<CidrBlock> v6 = CidrBlock::Parse("fc00::/7");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->ToString(), "fc00::/7");

  EXPECT_EQ(CidrBlock::Parse("1.2.3.4")->ToString(), "1.2.3.4/32");
  EXPECT_EQ(CidrBlock::Parse("::1")->ToString(), "::1/128");
  EXPECT_EQ(CidrBlock::Parse("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(CidrBlock::Parse("::/0")->ToString(), "::/0");
  // Host bits are cleared.
  EXPECT_EQ(CidrBlock::Parse("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  // A mapped base is IPv4 and counts IPv4 bits.
  EXPECT_EQ(CidrBlock::Parse("::ffff:10.0.0.0/8")->ToString(), "10.0.0.0/8");
}

TEST(CidrBlockTest, RejectsMalformedBlocks) {
  for (std::string_view text :
       {"", "/8", "1.2.3.4/", "1.2.3.4/33", "::/129", "1.2.3.4/08", "1.2.3.4/-1", "1.2.3.4/+8",
        "1.2.3.4/8/8", "1.2.3.4 /8", "1.2.3.4/ 8", "garbage", "10.0.0.0/8 ", "1.2.3.4/1000",
        "::ffff:10.0.0.0/104", "[::1]/128"}) {
    EXPECT_FALSE(CidrBlock::Parse(text).has_value()) << text;
  }
}

TEST(CidrBlockTest, ContainsAgreesWithMaskingAtEveryPrefixLength) {
  // Addresses that differ from a base in one bit at every position, in both families.
  const IpAddress v6 = *IpAddress::Parse("2001:db8:85a3:8d3:1319:8a2e:370:7348");
  const IpAddress v4 = *IpAddress::Parse("203.0.113.77");
  for (const IpAddress& seed : {v6, v4}) {
    const int max_bits = seed.is_v4() ? 32 : 128;
    const int first_bit = seed.is_v4() ? 96 : 0;
    for (int prefix = 0; prefix <= max_bits; ++prefix) {
      const CidrBlock block{seed.Masked(prefix), prefix};
      for (int flip = first_bit - 1; flip < 128; ++flip) {
        IpAddress::Bytes bytes = seed.bytes();
        if (flip >= 0) bytes[flip / 8] ^= static_cast<uint8_t>(0x80 >> (flip % 8));
        const IpAddress address = IpAddress::FromV6(bytes);
        const bool expected =
            address.is_v4() == seed.is_v4() && address.Masked(prefix) == block.base;
        EXPECT_EQ(block.Contains(address), expected) << block.ToString() << " bit " << flip;
      }
    }
  }
}

TEST(CidrBlockTest, ContainsAddressesOfItsOwnFamilyOnly) {
  CidrBlock ten = *CidrBlock::Parse("10.0.0.0/8");
  EXPECT_TRUE(ten.Contains(*IpAddress::Parse("10.0.0.0")));
  EXPECT_TRUE(ten.Contains(*IpAddress::Parse("10.255.255.255")));
  EXPECT_TRUE(ten.Contains(*IpAddress::Parse("::ffff:10.1.2.3")));
  EXPECT_FALSE(ten.Contains(*IpAddress::Parse("11.0.0.0")));
  EXPECT_FALSE(ten.Contains(*IpAddress::Parse("::a00:1")));

  CidrBlock ula = *CidrBlock::Parse("fc00::/7");
  EXPECT_TRUE(ula.Contains(*IpAddress::Parse("fc00::1")));
  EXPECT_TRUE(ula.Contains(*IpAddress::Parse("fdff:ffff::1")));
  EXPECT_FALSE(ula.Contains(*IpAddress::Parse("fe00::1")));
  EXPECT_FALSE(ula.Contains(*IpAddress::Parse("10.0.0.1")));

  CidrBlock all_v4 = *CidrBlock::Parse("0.0.0.0/0");
  EXPECT_TRUE(all_v4.Contains(*IpAddress::Parse("203.0.113.9")));
  EXPECT_FALSE(all_v4.Contains(*IpAddress::Parse("2001:db8::1")));

  CidrBlock all_v6 = *CidrBlock::Parse("::/0");
  EXPECT_TRUE(all_v6.Contains(*IpAddress::Parse("2001:db8::1")));
  EXPECT_FALSE(all_v6.Contains(*IpAddress::Parse("203.0.113.9")));

  CidrBlock single = *CidrBlock::Parse("192.0.2.1");
  EXPECT_TRUE(single.Contains(*IpAddress::Parse("192.0.2.1")));
  EXPECT_FALSE(single.Contains(*IpAddress::Parse("192.0.2.2")));
}

}  // namespace
}  // namespace rendezvous::common

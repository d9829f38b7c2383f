// Entity tags: their form, and the If-Match / If-None-Match grammar and comparisons.
#include "http/etag.h"

#include <charconv>
#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace rendezvous::http {
namespace {

std::string ETag(uint64_t version) {
  std::string out;
  AppendETag(version, out);
  return out;
}

TEST(ETagTest, IsTheVersionInLowerCaseHexQuoted) {
  EXPECT_EQ(ETag(1), "\"1\"");
  EXPECT_EQ(ETag(0x1f), "\"1f\"");
  EXPECT_EQ(ETag(0xdeadbeef), "\"deadbeef\"");
  EXPECT_EQ(ETag(UINT64_MAX), "\"ffffffffffffffff\"");
}

TEST(ETagTest, AgreesWithToCharsAtEveryDigitCount) {
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t top = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
    for (const uint64_t version : {top, top + 1, top / 3, top ^ uint64_t{0x5a5a5a5a5a5a5a5a}}) {
      char hex[16];
      const std::to_chars_result end = std::to_chars(hex, hex + sizeof hex, version, 16);
      std::string expected = "\"";
      expected.append(hex, end.ptr).push_back('"');
      EXPECT_EQ(ETag(version), expected) << version;
    }
  }
}

TEST(ETagTest, AppendsAfterWhatIsThere) {
  std::string out = "ETag: ";
  AppendETag(10, out);
  EXPECT_EQ(out, "ETag: \"a\"");
}

TEST(IfMatchTest, AbsentHeaderIsNoCondition) {
  const std::optional<IfMatch> parsed = ParseIfMatch("");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, IfMatch::Kind::kAbsent);
}

TEST(IfMatchTest, StarMeansTheKeyExists) {
  for (const char* header : {"*", " *", "* ", "\t*\t"}) {
    const std::optional<IfMatch> parsed = ParseIfMatch(header);
    ASSERT_TRUE(parsed.has_value()) << header;
    EXPECT_EQ(parsed->kind, IfMatch::Kind::kAny) << header;
  }
}

TEST(IfMatchTest, OneOfOurTagsNamesItsVersion) {
  for (const char* header : {"\"1f\"", " \"1f\" ", "\"1f\",", ", \"1f\"", "\"1f\", \"1f\""}) {
    const std::optional<IfMatch> parsed = ParseIfMatch(header);
    ASSERT_TRUE(parsed.has_value()) << header;
    EXPECT_EQ(parsed->kind, IfMatch::Kind::kVersion) << header;
    EXPECT_EQ(parsed->version, 0x1fu) << header;
  }
  EXPECT_EQ(ParseIfMatch("\"ffffffffffffffff\"")->version, UINT64_MAX);
}

TEST(IfMatchTest, TagsThatNameNoVersionNeverMatch) {
  // Well-formed, so not a 400; but strong comparison is byte equality with our exact form, and a
  // weak tag never matches strongly (RFC 9110 section 8.8.3.2).
  for (const char* header : {"\"\"", "\"01f\"", "\"1F\"", "\"xyz\"", "W/\"1f\"",
                             "\"10000000000000000\"", "\"0\"", ",", "\"caf\xc3\xa9\""}) {
    const std::optional<IfMatch> parsed = ParseIfMatch(header);
    ASSERT_TRUE(parsed.has_value()) << header;
    EXPECT_EQ(parsed->kind, IfMatch::Kind::kVersion) << header;
    EXPECT_EQ(parsed->version, 0u) << header;
  }
}

TEST(IfMatchTest, ForeignTagsBesideOneOfOursLeaveOurs) {
  EXPECT_EQ(ParseIfMatch("\"xyz\", \"2a\", W/\"3b\"")->version, 0x2au);
}

TEST(IfMatchTest, TwoDifferentVersionsAreRefused) {
  EXPECT_FALSE(ParseIfMatch("\"1\", \"2\"").has_value());
}

TEST(IfMatchTest, MalformedHeadersAreRefused) {
  for (const char* header :
       {"1f", "\"1f", "1f\"", "\"1f\"x", "\"1f\" \"2f\"", "\"1f\";", "w/\"1f\"", "W/1f", "W/",
        "*, \"1f\"", "\"1f\", *", "**", "\"a b\"", "\"a\x7f\"", "\"a\x01\""}) {
    EXPECT_FALSE(ParseIfMatch(header).has_value()) << header;
  }
}

TEST(IfNoneMatchTest, ValidForms) {
  for (const char* header : {"", "*", "\"1f\"", "W/\"1f\"", "\"a\", W/\"b\",, \"c\"", " \"x\" "}) {
    EXPECT_TRUE(IsValidIfNoneMatch(header)) << header;
  }
  for (const char* header : {"1f", "\"1f", "*, \"a\"", "\"a\" x", "W/ \"a\""}) {
    EXPECT_FALSE(IsValidIfNoneMatch(header)) << header;
  }
}

TEST(IfNoneMatchTest, MatchesUnderTheWeakComparison) {
  EXPECT_TRUE(IfNoneMatchMatches("*", 7));
  EXPECT_TRUE(IfNoneMatchMatches("\"7\"", 7));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"7\"", 7));
  EXPECT_TRUE(IfNoneMatchMatches("\"1\", \"2\", \"7\"", 7));
  EXPECT_FALSE(IfNoneMatchMatches("\"8\"", 7));
  EXPECT_FALSE(IfNoneMatchMatches("\"07\"", 7));
  EXPECT_FALSE(IfNoneMatchMatches("\"xyz\"", 7));
  EXPECT_FALSE(IfNoneMatchMatches("\"0\"", 0));  // no live entry has version 0
}

TEST(WildcardTest, OnlyAStarIsAWildcard) {
  EXPECT_TRUE(IsWildcard("*"));
  EXPECT_TRUE(IsWildcard(" * "));
  EXPECT_FALSE(IsWildcard(""));
  EXPECT_FALSE(IsWildcard("\"*\""));
  EXPECT_FALSE(IsWildcard("*,"));
}

}  // namespace
}  // namespace rendezvous::http

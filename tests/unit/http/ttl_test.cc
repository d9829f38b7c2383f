// X-TTL: whole seconds or Go durations, capped at -expireDuration, and what is refused.
#include "http/ttl.h"

#include "gtest/gtest.h"

namespace rendezvous::http {
namespace {

const absl::Duration kMax = absl::Hours(2);

TEST(TtlTest, AbsentHeaderIsTheFullLifetime) { EXPECT_EQ(ParseTtl("", kMax), kMax); }

TEST(TtlTest, WholeSeconds) {
  EXPECT_EQ(ParseTtl("90", kMax), absl::Seconds(90));
  EXPECT_EQ(ParseTtl("1", kMax), absl::Seconds(1));
  EXPECT_EQ(ParseTtl(" 90 ", kMax), absl::Seconds(90));
  EXPECT_EQ(ParseTtl("007", kMax), absl::Seconds(7));
}

TEST(TtlTest, GoDurations) {
  EXPECT_EQ(ParseTtl("90s", kMax), absl::Seconds(90));
  EXPECT_EQ(ParseTtl("1h30m", kMax), absl::Minutes(90));
  EXPECT_EQ(ParseTtl("1.5h", kMax), absl::Minutes(90));
  EXPECT_EQ(ParseTtl("500ms", kMax), absl::Milliseconds(500));
  EXPECT_EQ(ParseTtl("2m3s", kMax), absl::Seconds(123));
}

TEST(TtlTest, LongerThanTheMaximumIsCapped) {
  EXPECT_EQ(ParseTtl("7200", kMax), kMax);
  EXPECT_EQ(ParseTtl("7201", kMax), kMax);
  EXPECT_EQ(ParseTtl("3h", kMax), kMax);
  EXPECT_EQ(ParseTtl("100000h", kMax), kMax);
  EXPECT_EQ(ParseTtl("99999999999999999999999999", kMax), kMax);  // overflows any integer
}

TEST(TtlTest, ZeroNegativeInfiniteAndMalformedAreRefused) {
  for (const char* header : {"0", "0s", "000", "-5", "-5s", "-1h", "inf", "-inf", "abc", "90x",
                             "1.5", "h", "5 s", "+", "1e3", "0x10", "9s9", "s90"}) {
    EXPECT_FALSE(ParseTtl(header, kMax).has_value()) << header;
  }
}

}  // namespace
}  // namespace rendezvous::http

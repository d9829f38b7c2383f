// The header lines of key responses, byte for byte.
#include "http/key_headers.h"

#include <string>

#include "gtest/gtest.h"

namespace rendezvous::http {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT

TEST(ValueHeadersTest, ETagExpiryAndNoStore) {
  std::string out;
  AppendValueHeaders(0x2a, kNow + absl::Hours(2), kNow, out);
  EXPECT_EQ(out,
            "ETag: \"2a\"\r\n"
            "Expires: Wed, 15 Nov 2023 00:13:20 GMT\r\n"
            "X-Expires-In: 7200\r\n"
            "Cache-Control: no-store\r\n");
}

TEST(ValueHeadersTest, SecondsLeftAreRoundedDownAndNeverNegative) {
  std::string out;
  AppendValueHeaders(1, kNow + absl::Milliseconds(90'999), kNow, out);
  EXPECT_NE(out.find("X-Expires-In: 90\r\n"), std::string::npos) << out;
  out.clear();
  AppendValueHeaders(1, kNow + absl::Milliseconds(400), kNow, out);
  EXPECT_NE(out.find("X-Expires-In: 0\r\n"), std::string::npos) << out;
  out.clear();
  AppendValueHeaders(1, kNow - absl::Seconds(5), kNow, out);
  EXPECT_NE(out.find("X-Expires-In: 0\r\n"), std::string::npos) << out;
}

TEST(ValueHeadersTest, TheLongestVersionAndExpiryFit) {
  std::string out = "before\r\n";
  AppendValueHeaders(0xffff'ffff'ffff'ffff, absl::InfiniteFuture(), kNow, out);
  EXPECT_EQ(out,
            "before\r\n"
            "ETag: \"ffffffffffffffff\"\r\n"
            "Expires: Fri, 31 Dec 9999 23:59:59 GMT\r\n"
            "X-Expires-In: 9223372036854775807\r\n"
            "Cache-Control: no-store\r\n");
}

TEST(RateLimitHeadersTest, AllowedRequest) {
  ratelimit::Decision decision;
  decision.allowed = true;
  decision.remaining_tokens = 8;
  decision.until_full = absl::Milliseconds(16'300);
  std::string out;
  AppendRateLimitHeaders(decision, 11, out);
  EXPECT_EQ(out,
            "RateLimit-Limit: 11\r\n"
            "RateLimit-Remaining: 8\r\n"
            "RateLimit-Reset: 17\r\n");
}

TEST(RateLimitHeadersTest, RefusedRequestAddsRetryAfter) {
  ratelimit::Decision decision;
  decision.allowed = false;
  decision.remaining_tokens = 1;
  decision.retry_after = absl::Milliseconds(10'900);
  decision.until_full = absl::Seconds(54);
  std::string out;
  AppendRateLimitHeaders(decision, 11, out);
  EXPECT_EQ(out,
            "RateLimit-Limit: 11\r\n"
            "RateLimit-Remaining: 1\r\n"
            "RateLimit-Reset: 54\r\n"
            "Retry-After: 11\r\n");
}

TEST(RateLimitHeadersTest, WholeSecondsStayPartialSecondsRoundUpAndInfinitySaturates) {
  ratelimit::Decision decision;
  decision.allowed = false;
  decision.remaining_tokens = -3;  // never printed below zero
  decision.until_full = absl::Seconds(17);
  decision.retry_after = absl::InfiniteDuration();
  std::string out;
  AppendRateLimitHeaders(decision, 9'223'372'036'854'775'807, out);
  EXPECT_EQ(out,
            "RateLimit-Limit: 9223372036854775807\r\n"
            "RateLimit-Remaining: 0\r\n"
            "RateLimit-Reset: 17\r\n"
            "Retry-After: 9223372036854775807\r\n");
  decision.until_full = absl::Seconds(17) + absl::Nanoseconds(1);
  decision.retry_after = absl::Seconds(3) - absl::Nanoseconds(1);
  out.clear();
  AppendRateLimitHeaders(decision, 11, out);
  EXPECT_NE(out.find("RateLimit-Reset: 18\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Retry-After: 3\r\n"), std::string::npos) << out;
}

TEST(RateLimitHeadersTest, RetryAfterIsAtLeastOneSecond) {
  ratelimit::Decision decision;
  decision.allowed = false;
  decision.retry_after = absl::Nanoseconds(1);
  std::string out;
  AppendRateLimitHeaders(decision, 3, out);
  EXPECT_NE(out.find("Retry-After: 1\r\n"), std::string::npos) << out;
}

TEST(RateLimitHeadersTest, APreformattedLimitLineGivesTheSameLines) {
  EXPECT_EQ(FormatRateLimitLimitLine(11), "RateLimit-Limit: 11\r\n");
  EXPECT_EQ(FormatRateLimitLimitLine(9'223'372'036'854'775'807),
            "RateLimit-Limit: 9223372036854775807\r\n");
  for (const bool allowed : {true, false}) {
    for (const int64_t capacity : {int64_t{1}, int64_t{11}, int64_t{1'000'000'000},
                                   int64_t{9'223'372'036'854'775'807}}) {
      ratelimit::Decision decision;
      decision.allowed = allowed;
      decision.remaining_tokens = capacity - 1;
      decision.until_full = absl::Milliseconds(16'300);
      decision.retry_after = absl::Milliseconds(10'900);
      std::string computed = "before\r\n", preformatted = computed;
      AppendRateLimitHeaders(decision, capacity, computed);
      AppendRateLimitHeaders(decision, FormatRateLimitLimitLine(capacity), preformatted);
      EXPECT_EQ(preformatted, computed) << capacity;
    }
  }
  // A longer line than FormatRateLimitLimitLine makes is still appended whole.
  const std::string long_line = "RateLimit-Limit: " + std::string(60, '9') + "\r\n";
  ratelimit::Decision decision;
  decision.allowed = true;
  std::string out;
  AppendRateLimitHeaders(decision, long_line, out);
  EXPECT_EQ(out, long_line + "RateLimit-Remaining: 0\r\nRateLimit-Reset: 0\r\n");
}

TEST(PreflightHeadersTest, MethodsHeadersAndMaxAge) {
  std::string out;
  AppendPreflightHeaders(kKeyMethods, out);
  EXPECT_EQ(out,
            "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"
            "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"
            "Access-Control-Allow-Headers: X-Owner-Secret, If-Match, If-None-Match, X-TTL, "
            "Content-Type\r\n"
            "Access-Control-Max-Age: 86400\r\n");
}

}  // namespace
}  // namespace rendezvous::http

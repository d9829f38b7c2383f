#include "common/log.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rendezvous::common {
namespace {

const absl::Time kNoon = absl::FromUnixSeconds(1'700'000'000) + absl::Microseconds(123456);

TEST(FormatLogLineTest, StartsWithUtcTimestampAndLevel) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, kNoon, "listening"),
            "2023-11-14T22:13:20.123456Z INFO listening");
  EXPECT_EQ(FormatLogLine(LogLevel::kWarning, kNoon, "w"), "2023-11-14T22:13:20.123456Z WARNING w");
  EXPECT_EQ(FormatLogLine(LogLevel::kError, kNoon, "e"), "2023-11-14T22:13:20.123456Z ERROR e");
}

TEST(FormatLogLineTest, NeverLetsAMessageSpanTwoLines) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, kNoon, "a\nb\rc\x7f"),
            "2023-11-14T22:13:20.123456Z INFO a\\x0ab\\x0dc\\x7f");
}

TEST(LogTest, WritesOneLinePerMessageToStderr) {
  testing::internal::CaptureStderr();
  LogInfo("hello");
  LogError("bad\nthing");
  std::string output = testing::internal::GetCapturedStderr();
  EXPECT_NE(output.find(" INFO hello\n"), std::string::npos) << output;
  EXPECT_NE(output.find(" ERROR bad\\x0athing\n"), std::string::npos) << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 2);
}

TEST(LogTest, LinesFromManyThreadsDoNotInterleave) {
  const std::string message(500, 'x');
  testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) LogWarning(message);
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::string output = testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t start = 0; start < output.size(); ++lines) {
    size_t end = output.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(output.substr(end - message.size() - 9, message.size() + 9), " WARNING " + message);
    start = end + 1;
  }
  EXPECT_EQ(lines, 200u);
}

TEST(EscapeForLogTest, PassesPrintableAsciiThrough) {
  EXPECT_EQ(EscapeForLog("GET /key?x=1 ~!@#$%^&*()'"), "GET /key?x=1 ~!@#$%^&*()'");
  EXPECT_EQ(EscapeForLog(""), "");
}

TEST(EscapeForLogTest, EscapesControlBytesQuotesBackslashesAndNonAscii) {
  EXPECT_EQ(EscapeForLog("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeForLog("say \"hi\" \\o/"), "say \\\"hi\\\" \\\\o/");
  EXPECT_EQ(EscapeForLog(std::string_view("\0\x01\x1b[31m\x7f\x80\xff", 10)),
            "\\x00\\x01\\x1b[31m\\x7f\\x80\\xff");
  EXPECT_EQ(EscapeForLog("caf\xc3\xa9"), "caf\\xc3\\xa9");
}

TEST(EscapeForLogTest, TruncatesLongInputWithEllipsis) {
  EXPECT_EQ(EscapeForLog(std::string(300, 'a')), std::string(200, 'a') + "...");
  EXPECT_EQ(EscapeForLog(std::string(200, 'a')), std::string(200, 'a'));
  EXPECT_EQ(EscapeForLog("abcdef", 3), "abc...");
  EXPECT_EQ(EscapeForLog("abc", 0), "...");
}

TEST(EscapeForLogTest, NeverCutsAnEscapeInHalf) {
  // "ab" + "\x00" (4 chars) does not fit in 5.
  EXPECT_EQ(EscapeForLog(std::string_view("ab\0cd", 5), 5), "ab...");
  EXPECT_EQ(EscapeForLog(std::string_view("ab\0cd", 5), 6), "ab\\x00...");
  EXPECT_EQ(EscapeForLog(std::string_view("ab\0", 3), 6), "ab\\x00");
}

TEST(EscapeForLogTest, OutputIsBoundedForHostileInput) {
  std::string hostile(100'000, '\xff');
  std::string escaped = EscapeForLog(hostile, 200);
  EXPECT_LE(escaped.size(), 203u);
  EXPECT_EQ(escaped.substr(escaped.size() - 3), "...");
}

TEST(LogThrottleTest, AllowsTheFirstCallThenOncePerInterval) {
  LogThrottle throttle(absl::Seconds(10));
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  EXPECT_TRUE(throttle.ShouldLog(start));
  EXPECT_FALSE(throttle.ShouldLog(start));
  EXPECT_FALSE(throttle.ShouldLog(start + absl::Seconds(9)));
  EXPECT_EQ(throttle.TakeSuppressedCount(), 2);
  EXPECT_EQ(throttle.TakeSuppressedCount(), 0);
  EXPECT_TRUE(throttle.ShouldLog(start + absl::Seconds(10)));
  EXPECT_FALSE(throttle.ShouldLog(start + absl::Seconds(19)));
  EXPECT_TRUE(throttle.ShouldLog(start + absl::Seconds(100)));
}

TEST(LogThrottleTest, LetsExactlyOneOfManyRacingThreadsLog) {
  LogThrottle throttle(absl::Hours(1));
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  std::atomic<int> logged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (throttle.ShouldLog(now)) logged.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(logged.load(), 1);
  EXPECT_EQ(throttle.TakeSuppressedCount(), 7999);
}

}  // namespace
}  // namespace rendezvous::common

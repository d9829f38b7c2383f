#include "common/http_date.h"

#include <clocale>
#include <random>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace rendezvous::common {
namespace {

absl::Time Utc(int year, int month, int day, int hour, int minute, int second) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                         absl::UTCTimeZone());
}

TEST(FormatHttpDateTest, FormatsTheRfcExample) {
  EXPECT_EQ(FormatHttpDate(Utc(1994, 11, 6, 8, 49, 37)), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(FormatHttpDateTest, UsesEveryDayAndMonthName) {
  EXPECT_EQ(FormatHttpDate(Utc(2024, 1, 1, 0, 0, 0)), "Mon, 01 Jan 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 2, 6, 1, 2, 3)), "Tue, 06 Feb 2024 01:02:03 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 3, 6, 0, 0, 0)), "Wed, 06 Mar 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 4, 4, 0, 0, 0)), "Thu, 04 Apr 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 5, 3, 0, 0, 0)), "Fri, 03 May 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 6, 1, 0, 0, 0)), "Sat, 01 Jun 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 7, 7, 0, 0, 0)), "Sun, 07 Jul 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 8, 1, 0, 0, 0)), "Thu, 01 Aug 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 9, 1, 0, 0, 0)), "Sun, 01 Sep 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 10, 1, 0, 0, 0)), "Tue, 01 Oct 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 11, 1, 0, 0, 0)), "Fri, 01 Nov 2024 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(Utc(2024, 12, 31, 23, 59, 59)), "Tue, 31 Dec 2024 23:59:59 GMT");
}

TEST(FormatHttpDateTest, DropsSubsecondsAndIgnoresLocalTimeZone) {
  EXPECT_EQ(FormatHttpDate(absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(999)),
            "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(FormatHttpDate(absl::UnixEpoch()), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(absl::UnixEpoch() - absl::Nanoseconds(1)),
            "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST(FormatHttpDateTest, ClampsToFourDigitYears) {
  EXPECT_EQ(FormatHttpDate(absl::InfiniteFuture()), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(FormatHttpDate(absl::InfinitePast()), "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST(FormatHttpDateTest, DoesNotDependOnTheLocale) {
  // If a non-English locale is installed, switching to it must not change the output; if none
  // is, setlocale fails and the assertion still holds.
  const char* previous = std::setlocale(LC_TIME, nullptr);
  std::string saved = previous != nullptr ? previous : "C";
  std::setlocale(LC_TIME, "de_DE.UTF-8");
  EXPECT_EQ(FormatHttpDate(Utc(1994, 11, 6, 8, 49, 37)), "Sun, 06 Nov 1994 08:49:37 GMT");
  std::setlocale(LC_TIME, saved.c_str());
}

}  // namespace
}  // namespace rendezvous::common

namespace rendezvous::common {
namespace {

TEST(FormatHttpDateTest, AgreesWithAbseilsCalendarOverFourCenturies) {
  std::mt19937_64 random(42);
  // 1800-01-01 to 2200-01-01, plus the days around leap-year edges.
  std::uniform_int_distribution<int64_t> seconds(-5364662400, 7258118400);
  for (int i = 0; i < 20000; ++i) {
    const absl::Time time = absl::FromUnixSeconds(seconds(random));
    ASSERT_EQ(FormatHttpDate(time),
              absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", time, absl::UTCTimeZone()))
        << absl::ToUnixSeconds(time);
  }
  for (int year : {1900, 2000, 2024, 2100}) {
    for (int day : {58, 59, 60}) {  // Feb 28, Feb 29 / Mar 1, Mar 1 / Mar 2
      const absl::Time time =
          absl::FromCivil(absl::CivilDay(year, 1, 1) + day, absl::UTCTimeZone());
      EXPECT_EQ(FormatHttpDate(time),
                absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", time, absl::UTCTimeZone()));
    }
  }
}


TEST(ParseHttpDateTest, ParsesTheThreeFormsOfTheRfcExample) {
  const absl::Time expected = Utc(1994, 11, 6, 8, 49, 37);
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), expected);
}

TEST(ParseHttpDateTest, RoundTripsWhatFormatHttpDateWrites) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 2000; ++i) {
    const absl::Time time =
        absl::FromUnixSeconds(static_cast<int64_t>(random() % 253402300799ULL));
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(time)), time) << FormatHttpDate(time);
  }
  EXPECT_EQ(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), absl::UnixEpoch());
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2000 23:59:59 GMT"), Utc(2000, 2, 29, 23, 59, 59));
}

TEST(ParseHttpDateTest, MapsTwoDigitYearsNearestTo1970Through2069) {
  EXPECT_EQ(ParseHttpDate("Monday, 01-Jan-69 00:00:00 GMT"), Utc(2069, 1, 1, 0, 0, 0));
  EXPECT_EQ(ParseHttpDate("Thursday, 01-Jan-70 00:00:00 GMT"), Utc(1970, 1, 1, 0, 0, 0));
}

TEST(ParseHttpDateTest, RefusesEverythingElse) {
  for (const char* text : {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
                           "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
                           "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
                           "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                           "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
                           " Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z", "784111777",
                           "Sun, 06 Nov 94 08:49:37 GMT", "Sun Nov 6 08:49:37 1994"}) {
    EXPECT_EQ(ParseHttpDate(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace rendezvous::common

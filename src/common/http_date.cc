// IMF-fixdate formatting by hand: no locale can change the day or month names, and no time-zone
// library or printf runs per request (this formats Expires on every GET).
#include "common/http_date.h"

#include <algorithm>
#include <cstdint>

namespace rendezvous::common {
namespace {

constexpr char kMonthNames[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr char kWeekdayNames[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};  // from 1970-01-01

constexpr int64_t kSecondsPerDay = 86400;
// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds: the four-digit year's range.
constexpr int64_t kEarliestSeconds = -62167219200;
constexpr int64_t kLatestSeconds = 253402300799;

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// Days since 1970-01-01 to the proleptic Gregorian date (the classic days-from-civil inverse:
// 400-year eras of 146097 days, years starting in March so the leap day comes last).
CivilDate DateFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

void TwoDigits(int value, char* out) {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
}

}  // namespace

std::string FormatHttpDate(absl::Time time) {
  std::string out;
  AppendHttpDate(time, out);
  return out;
}

void AppendHttpDate(absl::Time time, std::string& out) {
  const int64_t seconds = std::clamp(absl::ToUnixSeconds(time), kEarliestSeconds, kLatestSeconds);
  // Floor division, so times before 1970 land on the right day.
  const int64_t days = seconds >= 0 ? seconds / kSecondsPerDay
                                    : -((-seconds + kSecondsPerDay - 1) / kSecondsPerDay);
  const int64_t second_of_day = seconds - days * kSecondsPerDay;
  const CivilDate date = DateFromDays(days);
  const int weekday = static_cast<int>(((days % 7) + 7) % 7);

  char text[29];  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::copy_n(kWeekdayNames[weekday], 3, text);
  text[3] = ',';
  text[4] = ' ';
  TwoDigits(date.day, text + 5);
  text[7] = ' ';
  std::copy_n(kMonthNames[date.month - 1], 3, text + 8);
  text[11] = ' ';
  TwoDigits(static_cast<int>(date.year / 100), text + 12);
  TwoDigits(static_cast<int>(date.year % 100), text + 14);
  text[16] = ' ';
  TwoDigits(static_cast<int>(second_of_day / 3600), text + 17);
  text[19] = ':';
  TwoDigits(static_cast<int>(second_of_day / 60 % 60), text + 20);
  text[22] = ':';
  TwoDigits(static_cast<int>(second_of_day % 60), text + 23);
  std::copy_n(" GMT", 4, text + 25);
  out.append(text, sizeof text);
}

}  // namespace rendezvous::common

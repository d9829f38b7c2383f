// IMF-fixdate formatting by hand: no locale can change the day or month names, and no time-zone
// library or printf runs per request (this formats Expires on every GET).
#include "common/http_date.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

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

// "00" to "99": one two-byte copy per field instead of a division and a remainder.
constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

void TwoDigits(int value, char* out) { std::memcpy(out, &kDigitPairs[2 * value], 2); }

}  // namespace

std::string FormatHttpDate(absl::Time time) {
  std::string out;
  AppendHttpDate(time, out);
  return out;
}

char* PutHttpDate(absl::Time time, char* text) {
  const int64_t seconds = std::clamp(absl::ToUnixSeconds(time), kEarliestSeconds, kLatestSeconds);
  // Floor division, so times before 1970 land on the right day.
  const int64_t days = seconds >= 0 ? seconds / kSecondsPerDay
                                    : -((-seconds + kSecondsPerDay - 1) / kSecondsPerDay);
  const int64_t second_of_day = seconds - days * kSecondsPerDay;
  const CivilDate date = DateFromDays(days);
  const int weekday = static_cast<int>(((days % 7) + 7) % 7);

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
  return text + kHttpDateBytes;
}

void AppendHttpDate(absl::Time time, std::string& out) {
  char text[kHttpDateBytes];
  out.append(text, PutHttpDate(time, text));
}

}  // namespace rendezvous::common

namespace rendezvous::common {
namespace {

// Days from 1970-01-01 to a proleptic Gregorian date (the inverse of DateFromDays).
int64_t DaysFromDate(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// A cursor over the text; every Take* consumes on success only.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  bool Literal(std::string_view literal) {
    if (!text_.starts_with(literal)) return false;
    text_.remove_prefix(literal.size());
    return true;
  }
  // Exactly `digits` decimal digits; a leading space counts as 0 when `space_ok` (asctime's day).
  bool Number(int digits, int64_t* value, bool space_ok = false) {
    if (text_.size() < static_cast<size_t>(digits)) return false;
    int64_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char c = text_[i];
      if (c == ' ' && space_ok && i == 0) continue;
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    text_.remove_prefix(digits);
    *value = v;
    return true;
  }
  bool Month(int* month) {
    for (int m = 0; m < 12; ++m) {
      if (Literal(kMonthNames[m])) {
        *month = m + 1;
        return true;
      }
    }
    return false;
  }
  // A day name: the three-letter one, or (RFC 850) the whole English name.
  bool DayName(bool full) {
    constexpr std::string_view kFull[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                           "Friday", "Saturday", "Sunday"};
    for (std::string_view name : kFull) {
      if (Literal(full ? name : name.substr(0, 3))) return true;
    }
    return false;
  }
  bool Time(int64_t* hour, int64_t* minute, int64_t* second) {
    return Number(2, hour) && Literal(":") && Number(2, minute) && Literal(":") &&
           Number(2, second);
  }
  bool AtEnd() const { return text_.empty(); }

 private:
  std::string_view text_;
};

std::optional<absl::Time> Assemble(int64_t year, int month, int64_t day, int64_t hour,
                                   int64_t minute, int64_t second) {
  if (day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: a leap second
  if (second == 60) second = 59;
  return absl::FromUnixSeconds(DaysFromDate(year, month, static_cast<int>(day)) * kSecondsPerDay +
                               hour * 3600 + minute * 60 + second);
}

}  // namespace

std::optional<absl::Time> ParseHttpDate(std::string_view text) {
  int64_t day = 0, year = 0, hour = 0, minute = 0, second = 0;
  int month = 0;
  {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Scanner s(text);
    if (s.DayName(false) && s.Literal(", ") && s.Number(2, &day) && s.Literal(" ") &&
        s.Month(&month) && s.Literal(" ") && s.Number(4, &year) && s.Literal(" ") &&
        s.Time(&hour, &minute, &second) && s.Literal(" GMT") && s.AtEnd()) {
      return Assemble(year, month, day, hour, minute, second);
    }
  }
  {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    Scanner s(text);
    if (s.DayName(true) && s.Literal(", ") && s.Number(2, &day) && s.Literal("-") &&
        s.Month(&month) && s.Literal("-") && s.Number(2, &year) && s.Literal(" ") &&
        s.Time(&hour, &minute, &second) && s.Literal(" GMT") && s.AtEnd()) {
      year += year < 70 ? 2000 : 1900;
      return Assemble(year, month, day, hour, minute, second);
    }
  }
  {  // asctime: "Sun Nov  6 08:49:37 1994"
    Scanner s(text);
    if (s.DayName(false) && s.Literal(" ") && s.Month(&month) && s.Literal(" ") &&
        s.Number(2, &day, /*space_ok=*/true) && s.Literal(" ") &&
        s.Time(&hour, &minute, &second) && s.Literal(" ") && s.Number(4, &year) && s.AtEnd()) {
      return Assemble(year, month, day, hour, minute, second);
    }
  }
  return std::nullopt;
}

}  // namespace rendezvous::common

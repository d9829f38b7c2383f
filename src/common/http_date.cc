// IMF-fixdate formatting by hand, so that no locale can change the day or month names.
#include "common/http_date.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace rendezvous::common {
namespace {

constexpr const char* kMonthNames[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

const char* WeekdayName(absl::Weekday weekday) {
  switch (weekday) {
    case absl::Weekday::monday:
      return "Mon";
    case absl::Weekday::tuesday:
      return "Tue";
    case absl::Weekday::wednesday:
      return "Wed";
    case absl::Weekday::thursday:
      return "Thu";
    case absl::Weekday::friday:
      return "Fri";
    case absl::Weekday::saturday:
      return "Sat";
    case absl::Weekday::sunday:
      return "Sun";
  }
  return "???";
}

}  // namespace

std::string FormatHttpDate(absl::Time time) {
  std::string out;
  AppendHttpDate(time, out);
  return out;
}

void AppendHttpDate(absl::Time time, std::string& out) {
  static const absl::Time kEarliest =
      absl::FromCivil(absl::CivilSecond(0, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  static const absl::Time kLatest =
      absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  time = std::clamp(time, kEarliest, kLatest);
  const absl::CivilSecond civil = absl::ToCivilSecond(time, absl::UTCTimeZone());
  absl::StrAppendFormat(&out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                        WeekdayName(absl::GetWeekday(civil)), civil.day(),
                        kMonthNames[civil.month() - 1], civil.year(), civil.hour(), civil.minute(),
                        civil.second());
}

}  // namespace rendezvous::common

// HTTP dates: the IMF-fixdate form required for the Date header (RFC 9110 section 5.6.7).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace rendezvous::common {

// "Sun, 06 Nov 1994 08:49:37 GMT": always UTC, always English day and month names (no locale is
// consulted), sub-second parts dropped (rounded down). Years outside 0..9999 are clamped to that
// range, since the format has room for exactly four digits.
std::string FormatHttpDate(absl::Time time);

// The length of every date FormatHttpDate makes.
inline constexpr size_t kHttpDateBytes = 29;

// The same text, written at `out` (room for kHttpDateBytes); returns its end. For callers that
// compose several header lines in one buffer.
char* PutHttpDate(absl::Time time, char* out);

// The same text, appended to `out`; allocates nothing when `out` has room for 29 more bytes (for
// per-request headers such as Expires).
void AppendHttpDate(absl::Time time, std::string& out);

// Parses an HTTP date as a recipient must accept it: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), and the obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year is the
// one nearest to 1970..2069) and asctime ("Sun Nov  6 08:49:37 1994") forms. Names are matched
// case-sensitively, as the grammar says; the day name is not checked against the date.
// nullopt for anything else (an invalid date such as 31 Feb included): a conditional request
// with an unparsable date is answered as if it had none.
std::optional<absl::Time> ParseHttpDate(std::string_view text);

}  // namespace rendezvous::common

// HTTP dates: the IMF-fixdate form required for the Date header (RFC 9110 section 5.6.7).
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace rendezvous::common {

// "Sun, 06 Nov 1994 08:49:37 GMT": always UTC, always English day and month names (no locale is
// consulted), sub-second parts dropped (rounded down). Years outside 0..9999 are clamped to that
// range, since the format has room for exactly four digits.
std::string FormatHttpDate(absl::Time time);

// The same text, appended to `out`; allocates nothing when `out` has room for 29 more bytes (for
// per-request headers such as Expires).
void AppendHttpDate(absl::Time time, std::string& out);

}  // namespace rendezvous::common

// The wait a GET asks for (long poll): `Prefer: wait=N` (RFC 7240) or the query `?wait=N`.
//
// Rules: N is a whole number of seconds, 0 to 9 digits, optionally a quoted-string holding one
// ("wait=\"5\""). The query wins over the header. In the header, preferences are separated by
// ',' and their parameters by ';'; only the first `wait` preference counts (RFC 7240 section 2:
// a repeated preference is ignored), its name case-insensitive; every other preference is
// ignored whatever its syntax. In the query, parameters are separated by '&'; the first `wait=`
// counts. A `wait` whose value is not such a number (empty, negative, fractional, too long) is
// malformed.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "absl/time/time.h"

namespace rendezvous::http {

struct WaitAsked {
  bool asked = false;       // a wait preference or parameter was present
  bool malformed = false;   // present but not a whole number of seconds
  absl::Duration duration;  // when asked and well-formed
};

// `prefer`: the Prefer lines joined with ','; `target`: the request-target as sent.
WaitAsked ParseWait(std::string_view prefer, std::string_view target);

}  // namespace rendezvous::http

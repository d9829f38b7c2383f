// X-TTL parsing (see ttl.h).
#include "http/ttl.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace rendezvous::http {

std::optional<absl::Duration> ParseTtl(std::string_view header, absl::Duration max) {
  // (absl::string_view: Debian's Abseil does not take std::string_view.)
  const absl::string_view value =
      absl::StripAsciiWhitespace(absl::string_view(header.data(), header.size()));
  if (value.empty()) return max;

  absl::Duration ttl;
  if (std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
    int64_t seconds = 0;
    // Only digits, so a failure is an overflow: a lifetime longer than any maximum.
    ttl = absl::SimpleAtoi(value, &seconds) ? absl::Seconds(seconds) : absl::InfiniteDuration();
  } else if (!absl::ParseDuration(value, &ttl) || ttl == absl::InfiniteDuration() ||
             ttl == -absl::InfiniteDuration()) {
    return std::nullopt;
  }
  if (ttl <= absl::ZeroDuration()) return std::nullopt;
  return std::min(ttl, max);
}

}  // namespace rendezvous::http

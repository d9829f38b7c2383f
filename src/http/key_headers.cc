// Header lines of key responses (see key_headers.h).
#include "http/key_headers.h"

#include <algorithm>
#include <charconv>
#include "common/http_date.h"
#include "http/etag.h"

namespace rendezvous::http {
namespace {

// Whole seconds of `d`, rounded up; 0 for a zero or negative `d`.
int64_t CeilSeconds(absl::Duration d) {
  return std::max<int64_t>(0, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
}

// `name` then the decimal `value` then CRLF. On every key response, so no StrAppend machinery:
// one to_chars into a stack buffer.
void AppendNumberLine(std::string_view name, int64_t value, std::string& out) {
  char digits[20];
  const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, value);
  out.append(name).append(digits, end.ptr).append("\r\n");
}

}  // namespace

void AppendValueHeaders(uint64_t version, absl::Time expires_at, absl::Time now, std::string& out) {
  out.append("ETag: ");
  AppendETag(version, out);
  out.append("\r\nExpires: ");
  common::AppendHttpDate(expires_at, out);
  out.append("\r\n");
  // ToInt64Seconds truncates toward zero: rounded down for the positive durations left.
  AppendNumberLine("X-Expires-In: ", std::max<int64_t>(0, absl::ToInt64Seconds(expires_at - now)),
                   out);
  out.append("Cache-Control: no-store\r\n");
}

void AppendRateLimitHeaders(const ratelimit::Decision& decision, int64_t capacity_tokens,
                            std::string& out) {
  AppendNumberLine("RateLimit-Limit: ", capacity_tokens, out);
  AppendNumberLine("RateLimit-Remaining: ", std::max<int64_t>(0, decision.remaining_tokens), out);
  AppendNumberLine("RateLimit-Reset: ", CeilSeconds(decision.until_full), out);
  if (!decision.allowed) {
    // A client that waits this long passes; an infinite wait (a cost above the capacity, which
    // the handler never asks for) saturates instead of overflowing.
    AppendNumberLine("Retry-After: ", std::max<int64_t>(1, CeilSeconds(decision.retry_after)), out);
  }
}

void AppendPreflightHeaders(std::string_view methods, std::string& out) {
  out.append("Allow: ").append(methods).append("\r\n");
  out.append("Access-Control-Allow-Methods: ").append(methods).append("\r\n");
  out.append(
      "Access-Control-Allow-Headers: X-Owner-Secret, If-Match, If-None-Match, X-TTL, "
      "Content-Type\r\n"
      "Access-Control-Max-Age: 86400\r\n");
}

}  // namespace rendezvous::http

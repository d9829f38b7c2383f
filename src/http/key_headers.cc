// Header lines of key responses (see key_headers.h).
#include "http/key_headers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/http_date.h"
#include "http/etag.h"

namespace rendezvous::http {
namespace {

// Whole seconds of `d`, rounded up; 0 for a zero or negative `d`.
int64_t CeilSeconds(absl::Duration d) {
  return std::max<int64_t>(0, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
}

}  // namespace

void AppendValueHeaders(uint64_t version, absl::Time expires_at, absl::Time now, std::string& out) {
  out.append("ETag: ");
  AppendETag(version, out);
  out.append("\r\nExpires: ");
  common::AppendHttpDate(expires_at, out);
  // ToInt64Seconds truncates toward zero: rounded down for the positive durations left.
  absl::StrAppend(
      &out, "\r\nX-Expires-In: ", std::max<int64_t>(0, absl::ToInt64Seconds(expires_at - now)),
      "\r\nCache-Control: no-store\r\n");
}

void AppendRateLimitHeaders(const ratelimit::Decision& decision, int64_t capacity_tokens,
                            std::string& out) {
  absl::StrAppend(&out, "RateLimit-Limit: ", capacity_tokens,
                  "\r\nRateLimit-Remaining: ", std::max<int64_t>(0, decision.remaining_tokens),
                  "\r\nRateLimit-Reset: ", CeilSeconds(decision.until_full), "\r\n");
  if (!decision.allowed) {
    // A client that waits this long passes; an infinite wait (a cost above the capacity, which
    // the handler never asks for) saturates instead of overflowing.
    absl::StrAppend(&out, "Retry-After: ", std::max<int64_t>(1, CeilSeconds(decision.retry_after)),
                    "\r\n");
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

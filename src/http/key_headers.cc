// Header lines of key responses (see key_headers.h).
#include "http/key_headers.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include "common/http_date.h"
#include "http/etag.h"

namespace rendezvous::http {
namespace {

// Whole seconds of `d`, rounded up; 0 for a zero or negative `d`; the largest int64_t for an
// infinite one. On every key response: a truncation and a compare, not absl::Ceil's division.
int64_t CeilSeconds(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t whole = absl::ToInt64Seconds(d);  // rounds toward zero; saturates at infinity
  if (whole == std::numeric_limits<int64_t>::max()) return whole;
  return d > absl::Seconds(whole) ? whole + 1 : whole;
}

// Writes `name`, the decimal `value` and CRLF at `out`; returns the end. `out` has room for the
// name and 20 digits + 2.
char* PutNumberLine(std::string_view name, int64_t value, char* out) {
  std::memcpy(out, name.data(), name.size());
  out = std::to_chars(out + name.size(), out + name.size() + 20, value).ptr;
  std::memcpy(out, "\r\n", 2);
  return out + 2;
}

}  // namespace

void AppendValueHeaders(uint64_t version, absl::Time expires_at, absl::Time now, std::string& out) {
  // Composed on the stack and appended once, as the rate-limit lines: on every key answer.
  constexpr std::string_view kETag = "ETag: ";
  constexpr std::string_view kExpires = "\r\nExpires: ";
  constexpr std::string_view kExpiresIn = "\r\nX-Expires-In: ";
  constexpr std::string_view kCacheControl = "\r\nCache-Control: no-store\r\n";
  char lines[kETag.size() + kMaxETagBytes + kExpires.size() + common::kHttpDateBytes + kExpiresIn.size() +
             20 + kCacheControl.size()];
  char* end = lines;
  auto put = [&end](std::string_view text) {
    std::memcpy(end, text.data(), text.size());
    end += text.size();
  };
  put(kETag);
  end = PutETag(version, end);
  put(kExpires);
  end = common::PutHttpDate(expires_at, end);
  put(kExpiresIn);
  // ToInt64Seconds truncates toward zero: rounded down for the positive durations left.
  end = std::to_chars(end, end + 20, std::max<int64_t>(0, absl::ToInt64Seconds(expires_at - now)))
            .ptr;
  put(kCacheControl);
  out.append(lines, end);
}

namespace {

// The lines after RateLimit-Limit, at `out` (room for three lines of at most 21 name bytes + 20
// digits + CRLF); returns the end.
char* PutDecisionLines(const ratelimit::Decision& decision, char* out) {
  out = PutNumberLine("RateLimit-Remaining: ", std::max<int64_t>(0, decision.remaining_tokens), out);
  out = PutNumberLine("RateLimit-Reset: ", CeilSeconds(decision.until_full), out);
  if (!decision.allowed) {
    // A client that waits this long passes; an infinite wait (a cost above the capacity, which
    // the handler never asks for) saturates instead of overflowing.
    out = PutNumberLine("Retry-After: ", std::max<int64_t>(1, CeilSeconds(decision.retry_after)),
                        out);
  }
  return out;
}

constexpr size_t kLineBytes = 21 + 20 + 2;  // the longest name, 20 digits, CRLF

}  // namespace

std::string FormatRateLimitLimitLine(int64_t capacity_tokens) {
  char line[kLineBytes];
  return std::string(line, PutNumberLine("RateLimit-Limit: ", capacity_tokens, line));
}

void AppendRateLimitHeaders(const ratelimit::Decision& decision, int64_t capacity_tokens,
                            std::string& out) {
  // Composed on the stack and appended once (one capacity check instead of a dozen).
  char lines[4 * kLineBytes];
  char* end = PutNumberLine("RateLimit-Limit: ", capacity_tokens, lines);
  out.append(lines, PutDecisionLines(decision, end));
}

void AppendRateLimitHeaders(const ratelimit::Decision& decision, std::string_view limit_line,
                            std::string& out) {
  char lines[4 * kLineBytes];
  if (limit_line.size() > kLineBytes) {  // not from FormatRateLimitLimitLine: still correct
    out.append(limit_line);
    out.append(lines, PutDecisionLines(decision, lines));
    return;
  }
  std::memcpy(lines, limit_line.data(), limit_line.size());
  out.append(lines, PutDecisionLines(decision, lines + limit_line.size()));
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

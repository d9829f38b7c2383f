// The extra header lines of key responses (appended to Response::extra_headers): a value's
// metadata, the client's rate-limit state, and the CORS preflight answer.
//
// All appends are allocation-free once `out` has grown to its working size, since they run on
// every request (numbers go through stack buffers, never std::to_string or streams).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

// The methods each kind of resource answers (the Allow header of 405 and OPTIONS, and
// Access-Control-Allow-Methods).
inline constexpr std::string_view kKeyMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
inline constexpr std::string_view kIndexMethods = "GET, HEAD, OPTIONS";

// ETag, Expires (IMF-fixdate), X-Expires-In (whole seconds left at `now`, rounded down, never
// negative) and Cache-Control: no-store, for a value of `version` expiring at `expires_at`.
// no-store: values change under their key at any time (and may be secrets' payloads), so no
// cache may keep one; clients revalidate with If-None-Match instead.
void AppendValueHeaders(uint64_t version, absl::Time expires_at, absl::Time now, std::string& out);

// RateLimit-Limit (the bucket size), RateLimit-Remaining (whole tokens left) and RateLimit-Reset
// (seconds until the bucket is full again, rounded up), the IETF httpapi draft's fields; for a
// refused request also Retry-After (whole seconds, rounded up, at least 1).
void AppendRateLimitHeaders(const ratelimit::Decision& decision, int64_t capacity_tokens,
                            std::string& out);

// "RateLimit-Limit: <capacity_tokens>\r\n". The bucket size never changes, so a handler formats
// this line once and passes it to the overload below on every response (a 10-digit number costs
// about 170 instructions to format).
std::string FormatRateLimitLimitLine(int64_t capacity_tokens);

// The same lines as above, with the RateLimit-Limit line `limit_line` from
// FormatRateLimitLimitLine.
void AppendRateLimitHeaders(const ratelimit::Decision& decision, std::string_view limit_line,
                            std::string& out);

// The answer to a CORS preflight (and to a plain OPTIONS): Allow and
// Access-Control-Allow-Methods (`methods`), Access-Control-Allow-Headers (the request headers
// the API reads) and Access-Control-Max-Age (a day, so a browser asks once per key and day).
void AppendPreflightHeaders(std::string_view methods, std::string& out);

}  // namespace rendezvous::http

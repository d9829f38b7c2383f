// Response: what a handler answers, serialized to bytes by AppendResponse (response.cc).
//
// Plain data; no sockets. net/ keeps one Response per connection and reuses it (its strings keep
// their capacity), so the common responses cost no heap allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "http/request.h"
#include "http/waiters.h"

namespace rendezvous::http {

enum class ContentType : uint8_t { kNone, kTextPlain, kOctetStream, kHtml, kJson };

// The handler's completion (see handler.h).
using Done = absl::AnyInvocable<void()>;

struct Response {
  int status = 200;
  ContentType content_type = ContentType::kNone;
  std::string body;
  bool head = false;  // HEAD: headers as for GET (Content-Length included), no body
  bool gzip = false;  // body is gzip-encoded (Content-Encoding: gzip)
  bool vary_accept_encoding = false;
  bool nosniff = false;  // X-Content-Type-Options: nosniff (error responses)
  bool close = false;    // the server closes the connection after this response
  // Further header lines, each "Name: value\r\n" (Allow, Retry-After, ETag, ...).
  std::string extra_headers;

  // Not serialized: the handler's state for the request in flight. It lives here because the
  // Response is per connection and outlives the store operation, so the store callback needs to
  // capture nothing but the Response's address (which fits AnyInvocable's inline storage), and
  // because reusing the strings' capacity keeps the request path free of heap allocations.
  // Reset() leaves it alone; Handle() sets what it uses.
  struct InFlight {
    std::string key;             // the decoded (and /ip/-rewritten) key
    std::string if_none_match;   // GET/HEAD: a copy of If-None-Match ("" when absent)
    uint32_t list_limit = 0;     // GET /ip/*/NAME: its ?limit (read again when a waiter fires)
    absl::Time now;              // the request's time
    Done done;                   // the handler's completion, run once the response is complete
    // Set by a handler whose store operation can be cancelled (a long-poll waiter). net/ clears
    // it before Handle and calls it, on the connection's thread, when it stops waiting for the
    // answer (the client went away, or the store deadline passed); `done` must still run exactly
    // once afterwards (the response it completes is then dropped). It may run concurrently with,
    // or after, the operation's completion on another thread, and must be safe in both cases.
    absl::AnyInvocable<void()> cancel;
    // A long poll (GET with a wait): set by the handler before Handle returns, never after. When
    // `wait` is positive and the answer is pending when Handle returns, net/ keeps reading (to see
    // the client leave: then it calls `cancel`), and instead of the store deadline it calls
    // `expire` once `wait` has passed; the handler then answers (its own time-out answer) and
    // the store deadline runs from there. net/ clears both before Handle.
    absl::Duration wait = absl::ZeroDuration();
    absl::AnyInvocable<void()> expire;
    Waiter waiter;  // the handler's record in its WaiterRegistry while the request waits
    // The Router's, when it counts requests (router.h): the completion of whoever called the
    // Router, and what it needs to count the answer.
    Done routed_done;
    Method method = Method::kOther;
    int64_t started_nanos = 0;        // Clock::MonotonicNanos() when the Router got the request
    int64_t store_started_nanos = 0;  // Clock::MonotonicNanos() when the store was called
    // Clock::MonotonicNanos() when the store answered (0: no store call); the Router ends the
    // request's duration there instead of reading the clock again (what follows is formatting).
    int64_t store_answered_nanos = 0;
    // The Router's, when it writes an access log: the request's raw path and client, copied
    // because the Request is gone by the completion (the string keeps its capacity).
    std::string log_path;
    common::IpAddress log_client;
  };
  InFlight in_flight;

  void Reset() {
    status = 200;
    content_type = ContentType::kNone;
    body.clear();
    head = gzip = vary_accept_encoding = nosniff = close = false;
    extra_headers.clear();
  }
};

// The CORS header lines every response carries (see AppendResponse): any origin may read every
// answer (the API has no cookies or other ambient credentials, so "*" exposes nothing a direct
// request could not get), and scripts may read the metadata headers of key responses.
inline constexpr std::string_view kCorsHeaders =
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Expose-Headers: ETag, Expires, X-Expires-In, RateLimit-Limit, "
    "RateLimit-Remaining, RateLimit-Reset, Retry-After\r\n";

// Appends the serialized response (status line, headers, body) to `out`. Allocates nothing when
// `out` has the capacity.
//
// The status line always says HTTP/1.1 (RFC 9110: a server sends its own highest version).
// Headers, in this order: Date (`date` is the preformatted IMF-fixdate), Content-Type (unless
// kNone), Content-Length (except for 1xx, 204 and 304, which RFC 9110 section 8.6 forbids it or
// which have no content; for a HEAD response the length a GET would have sent), Content-Encoding:
// gzip, Vary: Accept-Encoding, X-Content-Type-Options: nosniff, kCorsHeaders (always, so that
// protocol errors answered by net/ carry them too), extra_headers, then Connection: "close" when
// response.close or !keep_alive; "keep-alive" when the request was HTTP/1.0 (`request_version`
// 10) and the connection stays open; nothing otherwise (HTTP/1.1 default). `keep_alive` is the
// connection's decision for this request (Connection header and version rules); a response with
// close=true always says close. 1xx, 204 and 304 responses never carry a body.
void AppendResponse(const Response& response, std::string_view date, bool keep_alive,
                    int request_version, std::string& out);

}  // namespace rendezvous::http

// Handler: turns one Request into one Response. No sockets (net/ calls it).
//
// Request path (docs/compatibility.md "Request path and order of checks"): parse the target ->
// Host check -> index page, or: decode the key -> key checks and the /ip/ rewrite (free) -> rate
// limit -> method -> size checks -> store operation -> response.
//
// Completion: `done` is called exactly once, after `response` is complete. It may run inline
// (before Handle returns; always for errors and the index page, and for the memory store) or
// later on a store thread. When it runs inside a store callback, the store may hold an internal
// lock (see kv/store.h), so `done` must be short and must not call back into the Handler or the
// store synchronously: hand the response to the connection's own thread.
//
// Thread-safety: one Handler serves all I/O threads; it holds no per-request state (only the
// throttle of the localhost warning, which is lock-free).
#pragma once

#include <cstddef>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "http/request.h"
#include "http/response.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

class IndexPage;

struct HandlerOptions {
  size_t max_key_bytes = 100;              // -maxKeySize
  size_t max_value_bytes = 1000;           // -maxValueSize (value + secret)
  absl::Duration expire = absl::Hours(2);  // -expireDuration
  int ipv6_prefix_bits = 64;               // rate-limit and quota granularity for IPv6
  bool warn_localhost = true;              // !-disableLocalIPWaring
};

using Done = absl::AnyInvocable<void()>;

class Handler {
 public:
  // All references must outlive the Handler.
  Handler(const HandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
          const common::Clock& clock, const IndexPage& index_page);
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // Answers `request` into `response`, which Handle first Reset()s (its key_buffer is used as
  // scratch space). `request` (and what its views point to) is read only until Handle returns or
  // `done` runs, whichever is first; `response` must stay valid until `done` runs.
  //
  // The response decides:
  //   - response.head for a HEAD request (headers as for GET, no body);
  //   - response.close for a request whose body was cut off (request.body_too_large) and for
  //     protocol errors (see errors.h); net/ must honour it besides its own keep-alive rules.
  // HTTP/1.1 without a Host header is answered here (an empty Host value counts as missing).
  void Handle(const Request& request, Response& response, Done done);

 private:
  void HandleIndexPage(const Request& request, Response& response, Done done);
  void HandleGet(const std::string& key, absl::Time now, Response& response, Done done);
  void HandlePost(const Request& request, bool ip_key, absl::Time now, Response& response,
                  Done done);
  // The warning of the original for requests from loopback with no forwarded address: one line
  // a minute at most.
  void MaybeWarnLocalhost(const Request& request, absl::Time now);

  const HandlerOptions options_;
  kv::Store& store_;
  ratelimit::Limiter& limiter_;
  const common::Clock& clock_;
  const IndexPage& index_page_;
  common::LogThrottle localhost_warning_;
};

}  // namespace rendezvous::http

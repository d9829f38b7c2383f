// Handler: turns one Request into one Response. No sockets (net/ calls it).
//
// Request path (docs/compatibility.md "Request path and order of checks", README "HTTP
// semantics"): parse the target -> Host check -> the index page ("/"), or: decode the key -> key
// checks -> OPTIONS (CORS preflight) -> the /ip/ rewrite of writes -> X-TTL, If-Match and
// If-None-Match syntax (all of these free) -> rate limit -> method -> size and ownership checks
// -> store operation -> response. Every response after the rate limit carries the RateLimit-*
// headers; every value (GET, HEAD) and every write reply carries its ETag and expiry.
//
// Files: handler.cc routes and runs the checks that cost no store work; handler_read.cc answers
// GET and HEAD; handler_write.cc answers POST, PUT and DELETE.
//
// Completion: `done` is called exactly once, after `response` is complete. It may run inline
// (before Handle returns; always for errors and the index page, and for the memory store) or
// later on a store thread. When it runs inside a store callback, the store may hold an internal
// lock (see kv/store.h), so `done` must be short and must not call back into the Handler or the
// store synchronously: hand the response to the connection's own thread.
//
// Thread-safety: one Handler serves all I/O threads; it holds no per-request state (that lives in
// Response::in_flight; the only shared state is the throttle of the localhost warning, which is
// lock-free).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "http/errors.h"
#include "http/etag.h"
#include "http/request.h"
#include "http/request_handler.h"
#include "http/response.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

class IndexPage;

struct HandlerOptions {
  size_t max_key_bytes = 100;              // -maxKeySize
  size_t max_value_bytes = 1000;           // -maxValueSize (value + secret)
  absl::Duration expire = absl::Hours(2);  // -expireDuration; also the longest X-TTL
  int ipv6_prefix_bits = 64;               // rate-limit granularity and owner of ip/ keys (IPv6)
  bool warn_localhost = true;              // !-disableLocalIPWaring
  // -maxKeysPerIP: live keys one client (ratelimit::ClientKey: IPv4 address or IPv6 prefix of
  // ipv6_prefix_bits) may have created; 0 = no quota. Enforced by the store (kv::PutRequest).
  uint32_t max_keys_per_client = 250;
};

class Handler final : public RequestHandler {
 public:
  // All references must outlive the Handler.
  Handler(const HandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
          const common::Clock& clock, const IndexPage& index_page);
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // Answers `request` into `response`, which Handle first Reset()s (its in_flight part holds the
  // request's state while the store works). `request` (and what its views point to) is read only
  // until Handle returns or `done` runs, whichever is first; `response` must stay valid until
  // `done` runs.
  //
  // The response decides:
  //   - response.head for a HEAD request (headers as for GET, no body);
  //   - response.close for a request whose body was cut off (request.body_too_large) and for
  //     protocol errors (see errors.h); net/ must honour it besides its own keep-alive rules.
  // HTTP/1.1 without a Host header is answered here (an empty Host value counts as missing).
  void Handle(const Request& request, Response& response, Done done) override;

 private:
  // The condition a write's If-Match and If-None-Match ask for.
  struct WriteCondition {
    kv::Precondition precondition;
  };
  // What the conditional and lifetime headers of a request ask for, as far as its method reads
  // them (GET/HEAD: If-None-Match, kept in the request; POST/PUT: all; DELETE: If-Match).
  struct RequestConditions {
    IfMatch if_match;
    WriteCondition write;
    absl::Duration lifetime;  // POST/PUT: how long the value lives (X-TTL, capped)
  };

  // Completes `response`: runs (and clears) response.in_flight.done. The last thing a handler
  // does with the response: once done ran, the connection may reuse it.
  static void Finish(Response& response);
  // SetError(error, response), then Finish(response).
  static void Fail(Error error, Response& response);

  // Checks the syntax of X-TTL, If-Match and If-None-Match (those `request`'s method reads) and
  // fills `conditions`; kBadTtl or kBadPrecondition when one is malformed or unsupported.
  [[nodiscard]] std::optional<Error> CheckConditions(const Request& request,
                                                     RequestConditions& conditions) const;
  void HandleIndexPage(const Request& request, Response& response);
  // The store operations; each completes `response` (and runs its done) exactly once.
  // `charge` is what the store charges (cost 0 when the Handler's Limiter took it already).
  void HandleGet(const kv::RateCharge& charge, Response& response);
  void HandleWrite(const Request& request, bool ip_key, absl::Duration lifetime,
                   const WriteCondition& condition, const kv::RateCharge& charge,
                   Response& response);
  void HandleDelete(const Request& request, const IfMatch& if_match, const kv::RateCharge& charge,
                    Response& response);
  // For a store that charged the request: its RateLimit headers. Returns false (and completes
  // the response with 429) when the charge was refused.
  [[nodiscard]] bool AcceptStoreRate(const std::optional<ratelimit::Decision>& rate,
                                     kv::Status status, Response& response) const;
  // Whether `client` may delete the key `key` under "ip/": the address in its second segment
  // must be the client's, compared as the rate limiter does (a whole IPv4 address, an IPv6
  // prefix of ipv6_prefix_bits), so a client whose IPv6 address changes within its prefix keeps
  // its keys.
  bool OwnsIpKey(std::string_view key, const common::IpAddress& client) const;
  // The original's warning for requests from loopback whose client address is the loopback
  // peer, saying whether X-Forwarded-For was missing or not used: one line a minute at most.
  void MaybeWarnLocalhost(const Request& request, absl::Time now);

  const HandlerOptions options_;
  kv::Store& store_;
  ratelimit::Limiter& limiter_;
  const common::Clock& clock_;
  const IndexPage& index_page_;
  common::LogThrottle localhost_warning_;
};

}  // namespace rendezvous::http

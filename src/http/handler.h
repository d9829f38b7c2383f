// Handler: the key API — every path the Router (router.h) does not give to another route is a key,
// and this turns its Request into a Response. No sockets.
//
// Request path (docs/compatibility.md "Request path and order of checks", README "HTTP
// semantics"): the Router has parsed the target and checked Host; here: decode the key -> key
// checks -> OPTIONS (CORS preflight) -> the /ip/ rewrite of writes -> X-TTL, If-Match and
// If-None-Match syntax (all of these free) -> rate limit -> method -> size and ownership checks
// -> store operation -> response. Every response after the rate limit carries the RateLimit-*
// headers; every value (GET, HEAD) and every write reply carries its ETag and expiry.
//
// Files: handler.cc runs the checks that cost no store work; handler_read.cc answers GET and HEAD;
// handler_write.cc answers POST, PUT and DELETE.
//
// Metrics (http/stats.h, KeyStats): rate-limit refusals, and every store operation with its result
// and its duration on the clock's monotonic reading, from the call to the store's callback.
//
// Completion: `done` is called exactly once, after `response` is complete. It may run inline
// (before Handle returns; always for errors, and for the memory store) or
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
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "http/errors.h"
#include "http/etag.h"
#include "http/request.h"
#include "http/response.h"
#include "http/route_handler.h"
#include "http/stats.h"
#include "http/waiters.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

struct HandlerOptions {
  size_t max_key_bytes = 100;              // -maxKeySize
  size_t max_value_bytes = 1000;           // -maxValueSize (value + secret)
  absl::Duration expire = absl::Hours(2);  // -expireDuration; also the longest X-TTL
  int ipv6_prefix_bits = 64;               // rate-limit granularity and owner of ip/ keys (IPv6)
  bool warn_localhost = true;              // !-disableLocalIPWaring
  // -maxKeysPerIP: live keys one client (ratelimit::ClientKey: IPv4 address or IPv6 prefix of
  // ipv6_prefix_bits) may have created; 0 = no quota. Enforced by the store (kv::PutRequest).
  uint32_t max_keys_per_client = 250;
  // Long poll (GET with Prefer: wait=N or ?wait=N): the longest wait (-maxWait; a longer one is
  // cut to it), how many requests may wait at once in total (-maxWaiters; 0 turns waiting off:
  // a wait is then answered at once) and per client (ratelimit::ClientKey).
  absl::Duration max_wait = absl::Seconds(60);
  size_t max_waiters = 10000;
  size_t max_waiters_per_client = 32;
  // False: the waiters a write wakes are answered when the test calls waiters()->Drain().
  bool waker_thread = true;
  // Where the handler registers its metrics (KeyStats); must outlive the Handler. Null: a
  // private registry that nobody reads (tests that do not look at metrics).
  common::StatsRegistry* stats = nullptr;
};

class Handler final : public RouteHandler, private WaitAnswerer {
 public:
  // All references must outlive the Handler.
  Handler(const HandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
          const common::Clock& clock);
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // Answers `request` for the key at `path` into `response`, which the Router has Reset() (its
  // in_flight part holds the request's state while the store works). `request` (and what its
  // views point to) is read only until Handle returns or `done` runs, whichever is first;
  // `response` must stay valid until `done` runs. Sets response.close for protocol errors (see
  // errors.h), besides what the Router set; net/ honours it besides its own keep-alive rules.
  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override;

  // The long-poll waiters (null when max_waiters is 0). Installed as the store's change listener
  // by the constructor; the server calls CloseAll() at shutdown so that every waiter is answered
  // at once instead of holding the shutdown grace.
  WaiterRegistry* waiters() { return waiters_.get(); }

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

  // What a key under "ip/" names for `method`:
  // - kNone: not under "ip/", or a method that does not rewrite (OPTIONS, others);
  // - kOwnAddress: exactly "ip/" with GET, HEAD (the answer is the client's address) or DELETE
  //   (400, a name is required);
  // - kSomeones: GET, HEAD or DELETE of "ip/<address>/NAME" whose second segment parses as an IP
  //   address (the strict form IpAddress::Parse takes): read as it is, DELETE only by its owner;
  // - kOwn: POST and PUT always; GET, HEAD and DELETE otherwise: "ip/NAME" acts on
  //   "ip/<client>/NAME". So a name that itself starts with "<address>/" can be written as an own
  //   key but read back only by its full "ip/<client>/<address>/..." form.
  enum class IpKeyKind : uint8_t { kNone, kOwnAddress, kSomeones, kOwn };
  static IpKeyKind ClassifyIpKey(std::string_view key, Method method);

  // Completes `response`: runs (and clears) response.in_flight.done. The last thing a handler
  // does with the response: once done ran, the connection may reuse it.
  static void Finish(Response& response);
  // SetError(error, response), then Finish(response).
  static void Fail(Error error, Response& response);

  // Checks the syntax of X-TTL, If-Match and If-None-Match (those `request`'s method reads) and
  // fills `conditions`; kBadTtl or kBadPrecondition when one is malformed or unsupported.
  [[nodiscard]] std::optional<Error> CheckConditions(const Request& request,
                                                     RequestConditions& conditions) const;
  // The store operations; each completes `response` (and runs its done) exactly once.
  // `charge` is what the store charges (cost 0 when the Handler's Limiter took it already).
  void HandleGet(const kv::RateCharge& charge, Response& response);
  // Fills `response` from a Get's result (200, 304 for a matching If-None-Match, or the error).
  static void AnswerRead(const kv::GetResult& result, Response& response);
  // GET/HEAD with a wait (handler_wait.cc): parks the request in waiters_ unless the key's state
  // answers it at once.
  void HandleWaitingGet(const Request& request, absl::Duration wait,
                        const kv::RateCharge& charge, Response& response);
  // WaitAnswerer: a parked request whose wait ended: read again and answer.
  void AnswerFired(Response& response) override;
  // WaitAnswerer: a parked request fired by the registry (a write's wake, a wake of all,
  // shutdown): read again and answer if that answers it, else park again.
  void RecheckWoken(Response& response) override;
  // Called in a store completion: reads the clock once, keeps the reading for the Router
  // (in_flight.store_answered_nanos) and returns the nanoseconds since store_started_nanos.
  int64_t StoreElapsedNanos(Response& response) const {
    response.in_flight.store_answered_nanos = clock_.MonotonicNanos();
    return response.in_flight.store_answered_nanos - response.in_flight.store_started_nanos;
  }
  void HandleWrite(const Request& request, bool ip_key, absl::Duration lifetime,
                   const WriteCondition& condition, const kv::RateCharge& charge,
                   Response& response);
  void HandleDelete(const Request& request, const IfMatch& if_match, const kv::RateCharge& charge,
                    Response& response);
  // For a store that charged the request: its RateLimit headers. Returns false (and completes
  // the response with 429) when the charge was refused.
  [[nodiscard]] bool AcceptStoreRate(const std::optional<ratelimit::Decision>& rate,
                                     kv::Status status, Response& response);
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
  const std::string rate_limit_line_;  // FormatRateLimitLimitLine of the limiter's capacity
  const common::Clock& clock_;
  std::unique_ptr<common::StatsRegistry> own_stats_;  // when options.stats is null
  KeyStats stats_;
  common::LogThrottle localhost_warning_;
  std::unique_ptr<WaiterRegistry> waiters_;  // last: its waker stops before the rest goes
};

}  // namespace rendezvous::http

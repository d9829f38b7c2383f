// ListHandler: GET /ip/*/NAME, who announced NAME — the live keys "ip/<address>/NAME" (see
// kv/announcement.h), whatever their addresses, as JSON:
//
//   {"name": "chat", "total": 2, "peers": [
//     {"address": "203.0.113.7", "value": "hello", "etag": "\"1f\"", "expires_in": 7190}, ...]}
//
// A value (or the name) that is not valid UTF-8 is given as "value_base64" ("name_base64")
// instead. `total` is the exact number of live announcers; `peers` holds at most `?limit=N` of
// them (default 100, 0 to 1000), a fresh uniform random sample on each request when more are
// live, in ascending address order. An unknown name is 200 with total 0.
//
// NAME is percent-decoded as a key is, and is everything after "/ip/*/" (slashes included: the
// key "ip/A/x/y" announces "x/y"); at most -maxKeySize bytes.
//
// Order of checks: the name (400) -> limit, If-None-Match and wait syntax (400) -> OPTIONS (free,
// the CORS preflight) -> rate limit (one token, as a GET; the store's charge when the store holds
// the buckets) -> method (GET and HEAD; the rest 405) -> the store's List -> 200, or 304 when
// If-None-Match names the listing's ETag. The ETag names the set of live announcers and their
// values (a write, delete or expiry changes it), not the sample: two requests may get different
// samples under one ETag. Cache-Control: no-store, as for values.
//
// Wait (long poll, as on keys: `Prefer: wait=N` or `?wait=N`, cut to -maxWait, answered with
// Preference-Applied): with If-None-Match naming the current ETag, the request parks in the key
// API's WaiterRegistry under the name (WaitOn::kListing, apart from key waiters) until a write or
// delete of an announcement of that name (the change listener parses the written key with
// kv::ParseAnnouncement; on Redis, through any server), the wait's end, the client leaving or
// shutdown. A wake lists again and answers 200 when the ETag changed, else parks again for the
// rest of the wait (a wake is a hint: a late message, a wake of all); the wait's end and
// shutdown list again and answer 200 or 304. The first list pays the wait's token (in the
// store's bucket on an engine that ChargesRateLimit); the lists after it are free. An announcer
// that merely expires makes no event: it wakes nobody, and the wait's end then answers 200 (the
// ETag changed) rather than 304.
// Without a matching If-None-Match a wait answers at once. Caps as for key waits (429).
//
// Thread-safety: one ListHandler serves all I/O threads; its only state is an atomic counter (a
// parked request's state is in its Response).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "http/request.h"
#include "http/response.h"
#include "http/route_handler.h"
#include "http/waiters.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

// The route's prefix and the methods a listing answers.
inline constexpr std::string_view kListPrefix = "/ip/*/";
inline constexpr std::string_view kListMethods = "GET, HEAD, OPTIONS";
inline constexpr uint32_t kDefaultListLimit = 100;
inline constexpr uint32_t kMaxListLimit = 1000;

struct ListHandlerOptions {
  size_t max_key_bytes = 100;                   // -maxKeySize: the longest NAME
  int ipv6_prefix_bits = 64;                    // rate-limit granularity (IPv6)
  absl::Duration max_wait = absl::Seconds(60);  // -maxWait: a longer wait is cut to it
  // Where the sample seeds start (each request takes the next); nullopt: a random start.
  std::optional<uint64_t> first_seed;
};

// The value the listing's ETag carries, from the store's fingerprint and total (never 0).
uint64_t ListETagVersion(uint64_t fingerprint, uint64_t total);

// The `limit` query parameter of `target` (the first "limit=" of the query): kDefaultListLimit
// when absent, nullopt when malformed (not 1 to 4 decimal digits) or over kMaxListLimit.
std::optional<uint32_t> ParseListLimit(std::string_view target);

class ListHandler final : public RouteHandler, private WaitAnswerer {
 public:
  // All references must outlive the ListHandler. `store` and `limiter` are the key API's;
  // `waiters` is the key API's registry (Handler::waiters(), which the store's change listener
  // feeds), or null: waits are then answered at once.
  ListHandler(const ListHandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
              const common::Clock& clock, WaiterRegistry* waiters = nullptr);
  ListHandler(const ListHandler&) = delete;
  ListHandler& operator=(const ListHandler&) = delete;

  // `path` starts with kListPrefix (the route's prefix).
  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override;

 private:
  // The List of the name in response.in_flight (key, list_limit, now), with a fresh seed.
  kv::ListRequest ListRequestFor(const Response& response);
  // Lists the name in response.in_flight (key, list_limit, now) and answers; `charge` is what a
  // charging store takes (cost 0 otherwise).
  void ListAndAnswer(const kv::RateCharge& charge, Response& response);
  // Fills `response` from a List's result (200, 304 or the error) and completes it.
  void Answer(const kv::ListResult& result, Response& response);
  // Parks a listing whose If-None-Match is set, unless its listing already differs; `charge`
  // is what a charging store takes for the first list.
  void HandleWaitingList(const Request& request, absl::Duration wait, const kv::RateCharge& charge,
                         Response& response);
  // Lists while the waiter is pinned, then FinishRead: answers, or leaves it parked or queued.
  void ListPinned(const kv::RateCharge& charge, Response& response);
  // WaitAnswerer: a parked listing was fired by a wake or shutdown: list again, answer if the
  // ETag changed, else park again.
  void RecheckWoken(Response& response) override;
  // WaitAnswerer: the wait ended: list again and answer (200 or 304).
  void AnswerFired(Response& response) override;

  const ListHandlerOptions options_;
  kv::Store& store_;
  ratelimit::Limiter& limiter_;
  const std::string rate_limit_line_;  // FormatRateLimitLimitLine of the limiter's capacity
  const common::Clock& clock_;
  WaiterRegistry* const waiters_;
  std::atomic<uint64_t> next_seed_;
};

}  // namespace rendezvous::http

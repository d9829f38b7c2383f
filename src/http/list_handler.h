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
// Order of checks: the name (400) -> limit and If-None-Match syntax (400) -> OPTIONS (free, the
// CORS preflight) -> rate limit (one token, as a GET; the store's charge when the store holds
// the buckets) -> method (GET and HEAD; the rest 405) -> the store's List -> 200, or 304 when
// If-None-Match names the listing's ETag. The ETag names the set of live announcers and their
// values (a write, delete or expiry changes it), not the sample: two requests may get different
// samples under one ETag. Cache-Control: no-store, as for values. A wait (Prefer: wait=N) is not
// applied to listings: the answer is immediate.
//
// Thread-safety: one ListHandler serves all I/O threads; its only state is an atomic counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "http/request.h"
#include "http/response.h"
#include "http/route_handler.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

// The route's prefix and the methods a listing answers.
inline constexpr std::string_view kListPrefix = "/ip/*/";
inline constexpr std::string_view kListMethods = "GET, HEAD, OPTIONS";
inline constexpr uint32_t kDefaultListLimit = 100;
inline constexpr uint32_t kMaxListLimit = 1000;

struct ListHandlerOptions {
  size_t max_key_bytes = 100;  // -maxKeySize: the longest NAME
  int ipv6_prefix_bits = 64;   // rate-limit granularity (IPv6)
  // Where the sample seeds start (each request takes the next); nullopt: a random start.
  std::optional<uint64_t> first_seed;
};

// The value the listing's ETag carries, from the store's fingerprint and total (never 0).
uint64_t ListETagVersion(uint64_t fingerprint, uint64_t total);

// The `limit` query parameter of `target` (the first "limit=" of the query): kDefaultListLimit
// when absent, nullopt when malformed (not 1 to 4 decimal digits) or over kMaxListLimit.
std::optional<uint32_t> ParseListLimit(std::string_view target);

class ListHandler final : public RouteHandler {
 public:
  // All references must outlive the ListHandler. `store` and `limiter` are the key API's.
  ListHandler(const ListHandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
              const common::Clock& clock);
  ListHandler(const ListHandler&) = delete;
  ListHandler& operator=(const ListHandler&) = delete;

  // `path` starts with kListPrefix (the route's prefix).
  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override;

 private:
  const ListHandlerOptions options_;
  kv::Store& store_;
  ratelimit::Limiter& limiter_;
  const common::Clock& clock_;
  std::atomic<uint64_t> next_seed_;
};

}  // namespace rendezvous::http

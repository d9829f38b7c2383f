// PkHandler: signed keys under /pk/<key> — the records of pkarr relays (pkarr/record.h). A key is
// an ed25519 public key; a record is stored only when its signature verifies and it is newer than
// the one held, so no owner secret is needed.
//
// Order of checks: the key in the target (400) -> OPTIONS (free, the CORS preflight) -> rate
// limit (the key API's limiter and costs: 3 tokens for a write, 1 otherwise) -> method (DELETE
// and the rest: 405) -> for a write the size (400, 413), then the signature (400), then the store
// under "pk/<key>" with Precondition::kSignedRecordNewer (409 when an older or conflicting record
// is offered), the key quota and capacity as for every key, expiry -expireDuration -> 204. The
// signature is checked only after the rate limit, so an unpaid request never costs a
// verification. GET and HEAD answer the stored bytes with Last-Modified (the record's timestamp),
// ETag and the expiry headers; If-None-Match and If-Modified-Since (whole seconds) give 304.
// On a store that ChargesRateLimit (Redis), the store charges the client's one bucket, shared by
// all servers, inside the operation as for keys (the RateLimit-* headers are its decision); this
// server's limiter then only gates a write's verification (a client whose shared bucket is empty
// is refused by the store after one verification per token this server's bucket still holds).
// X-Owner-Secret, If-Match and X-TTL play no part.
//
// Thread-safety: one PkHandler serves all I/O threads; its only state is an atomic counter.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "http/request.h"
#include "http/response.h"
#include "http/route_handler.h"
#include "kv/store.h"
#include "kv/write_plan.h"
#include "pkarr/record.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http {

// The methods of a /pk/ key (Allow of 405 and OPTIONS, Access-Control-Allow-Methods).
inline constexpr std::string_view kPkMethods = "GET, HEAD, POST, PUT, OPTIONS";
// The media type of a record, as pkarr relays serve it.
inline constexpr std::string_view kPkContentType = "application/pkarr.org/relays#payload";
// The prefix of the store keys that hold records ("pk/" and the 52-character key).
inline constexpr std::string_view kPkStorePrefix = "pk/";

// The store's input limits for a server that serves /pk/: the key API's, widened so that a record
// ("pk/" and 52 characters, at most 1072 bytes) always fits whatever -maxKeySize and -maxValueSize
// say. The key API checks its own, narrower limits before it calls the store; net/ must read
// bodies up to max_value_bytes of the result.
inline kv::InputLimits StoreLimitsWithSignedKeys(kv::InputLimits key_api) {
  return {std::max(key_api.max_key_bytes, kPkStorePrefix.size() + pkarr::kPublicKeyChars),
          std::max(key_api.max_value_bytes, pkarr::kMaxRecordBytes)};
}

struct PkHandlerOptions {
  absl::Duration expire = absl::Hours(2);  // -expireDuration: a record's lifetime after its PUT
  int ipv6_prefix_bits = 64;               // rate-limit granularity and quota owner (IPv6)
  uint32_t max_keys_per_client = 250;      // -maxKeysPerIP; 0 = no quota
};

class PkHandler final : public RouteHandler {
 public:
  // All references must outlive the PkHandler. `store` and `limiter` are the key API's.
  PkHandler(const PkHandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
            const common::Clock& clock);
  PkHandler(const PkHandler&) = delete;
  PkHandler& operator=(const PkHandler&) = delete;

  // `path` starts with "/pk/" (the route's prefix).
  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override;

  // How many signatures were checked since start (tests: a refused request costs none).
  uint64_t verifications() const { return verifications_.load(std::memory_order_relaxed); }

 private:
  // `charge` is what the store charges (cost 0 when limiter_ took it already).
  void HandleGet(const Request& request, const kv::RateCharge& charge, Response& response);
  void HandleWrite(const Request& request, const kv::RateCharge& charge, Response& response);

  const PkHandlerOptions options_;
  kv::Store& store_;
  ratelimit::Limiter& limiter_;
  const common::Clock& clock_;
  std::atomic<uint64_t> verifications_{0};
};

}  // namespace rendezvous::http

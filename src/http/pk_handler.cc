// Signed keys under /pk/: see pk_handler.h for the order of checks.
#include "http/pk_handler.h"

#include <optional>
#include <utility>

#include "common/http_date.h"
#include "http/errors.h"
#include "http/etag.h"
#include "http/key_headers.h"
#include "http/request_cost.h"
#include "pkarr/record.h"

namespace rendezvous::http {
namespace {

void Finish(Response& response) {
  Done done = std::move(response.in_flight.done);  // moved out first: the Response may be reused
  done();
}

void Fail(Error error, Response& response) {
  SetError(error, response);
  Finish(response);
}

Error ErrorForRecord(pkarr::Error error) {
  switch (error) {
    case pkarr::Error::kInvalidPublicKey:
      return Error::kInvalidPublicKey;
    case pkarr::Error::kRecordTooShort:
      return Error::kRecordTooShort;
    case pkarr::Error::kValueTooLarge:
      return Error::kRecordValueTooLarge;
    case pkarr::Error::kInvalidSignature:
    case pkarr::Error::kOk:  // not an error; a caller bug, refused
      break;
  }
  return Error::kInvalidSignature;
}

// A charging store's decision (kv::Store::ChargesRateLimit): its headers, and 429 when it refused.
// Returns false when the request is answered.
bool AcceptStoreRate(const std::optional<ratelimit::Decision>& rate, kv::Status status,
                     int64_t capacity_tokens, Response& response) {
  if (!rate) return true;
  AppendRateLimitHeaders(*rate, capacity_tokens, response.extra_headers);
  if (status != kv::Status::kRateLimited) return true;
  Fail(Error::kRateLimited, response);
  return false;
}

}  // namespace

PkHandler::PkHandler(const PkHandlerOptions& options, kv::Store& store,
                     ratelimit::Limiter& limiter, const common::Clock& clock)
    : options_(options), store_(store), limiter_(limiter), clock_(clock) {}

void PkHandler::Handle(const Request& request, std::string_view path, Response& response,
                       Done done) {
  response.in_flight.done = std::move(done);
  // The key is taken as sent: z-base-32 needs no percent-encoding, so "%.." is no key either.
  const std::string_view z32 = path.substr(std::min(path.size(), std::string_view("/pk/").size()));
  pkarr::PublicKey public_key;
  if (pkarr::DecodePublicKey(z32, &public_key) != pkarr::KeyError::kOk) {
    return Fail(Error::kInvalidPublicKey, response);
  }
  std::string& key = response.in_flight.key;
  key.assign(kPkStorePrefix).append(z32);

  if (request.method == Method::kOptions) {  // a preflight changes nothing and costs nothing
    response.status = 204;
    AppendPreflightHeaders(kPkMethods, response.extra_headers);
    return Finish(response);
  }

  const bool is_write = request.method == Method::kPost || request.method == Method::kPut;
  const absl::Time now = clock_.Now();
  response.in_flight.now = now;
  kv::RateCharge charge;
  charge.client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  charge.cost_tokens = is_write ? kWriteCostTokens : kOtherCostTokens;
  const bool shared_bucket = store_.ChargesRateLimit();
  if (!shared_bucket || is_write) {
    const ratelimit::Decision decision =
        limiter_.Take(ratelimit::ClientKey{charge.client}, charge.cost_tokens, now);
    // With a shared bucket (Redis: one across all servers) the store charges it in the write's
    // own step, after the signature was checked. This server's limiter still gates the
    // verification, so that a client whose shared bucket is empty cannot make it verify
    // signatures for free; it never refuses what the shared bucket allows, since it counts a
    // subset of the same charges. Only its refusals are reported.
    if (!shared_bucket || !decision.allowed) {
      AppendRateLimitHeaders(decision, limiter_.capacity_tokens(), response.extra_headers);
    }
    if (!decision.allowed) return Fail(Error::kRateLimited, response);
    if (!shared_bucket) charge.cost_tokens = 0;  // taken
  }

  switch (request.method) {
    case Method::kGet:
    case Method::kHead:
      return HandleGet(request, charge, response);
    case Method::kPost:
    case Method::kPut:
      return HandleWrite(request, charge, response);
    default:
      // DELETE too: a record cannot be removed without a signature; it expires.
      response.extra_headers.append("Allow: ").append(kPkMethods).append("\r\n");
      return Fail(Error::kMethodNotAllowed, response);
  }
}

void PkHandler::HandleGet(const Request& request, const kv::RateCharge& charge,
                          Response& response) {
  // Copied or parsed now: the store may answer after `request` is gone. If-None-Match takes
  // precedence over If-Modified-Since (RFC 9110 section 13.2.2); an unparsable date is ignored.
  response.in_flight.if_none_match.assign(request.if_none_match);
  std::optional<absl::Time> since;
  if (request.if_none_match.empty()) since = common::ParseHttpDate(request.if_modified_since);
  store_.ChargedGet(response.in_flight.key, response.in_flight.now, charge,
             [&response, since, capacity = limiter_.capacity_tokens()](
                 const kv::GetResult& result) {
               if (!AcceptStoreRate(result.rate, result.status, capacity, response)) return;
               if (result.status != kv::Status::kOk) {
                 return Fail(ErrorFor(result.status), response);
               }
               const kv::EntryView& entry = result.entry;
               std::string& headers = response.extra_headers;
               AppendValueHeaders(entry.version, entry.expires_at, response.in_flight.now,
                                  headers);
               // A value stored under "pk/" before signed keys existed has no timestamp.
               const std::optional<uint64_t> timestamp = pkarr::StoredTimestamp(entry.value);
               if (timestamp) {
                 headers.append("Last-Modified: ");
                 common::AppendHttpDate(pkarr::TimestampToTime(*timestamp), headers);
                 headers.append("\r\n");
               }
               const std::string& if_none_match = response.in_flight.if_none_match;
               const bool not_modified =
                   !if_none_match.empty()
                       ? IfNoneMatchMatches(if_none_match, entry.version)
                       : since && timestamp && !pkarr::ModifiedSince(*timestamp, *since);
               if (not_modified) {
                 response.status = 304;  // the headers a 200 would carry, no body
               } else {
                 response.status = 200;
                 headers.append("Content-Type: ").append(kPkContentType).append("\r\n");
                 response.body.assign(entry.value.data(), entry.value.size());
               }
               Finish(response);
             });
}

void PkHandler::HandleWrite(const Request& request, const kv::RateCharge& charge,
                            Response& response) {
  // A body cut off by net/ is over any limit; sizes before the signature, which costs ~40 µs.
  if (request.body_too_large) return Fail(Error::kRecordValueTooLarge, response);
  pkarr::Record record;
  if (const pkarr::Error error = pkarr::ParseRecord(request.body, &record);
      error != pkarr::Error::kOk) {
    return Fail(ErrorForRecord(error), response);
  }
  pkarr::PublicKey public_key;
  const std::string_view z32 =
      std::string_view(response.in_flight.key).substr(kPkStorePrefix.size());
  if (pkarr::DecodePublicKey(z32, &public_key) != pkarr::KeyError::kOk) {
    return Fail(Error::kInvalidPublicKey, response);  // decoded in Handle; cannot happen
  }
  verifications_.fetch_add(1, std::memory_order_relaxed);
  if (const pkarr::Error error = pkarr::VerifyRecord(public_key, request.body);
      error != pkarr::Error::kOk) {
    return Fail(ErrorForRecord(error), response);
  }

  kv::PutRequest put;
  put.key = response.in_flight.key;
  put.value = request.body;
  put.now = response.in_flight.now;
  put.expires_at = put.now + options_.expire;
  put.precondition.kind = kv::Precondition::Kind::kSignedRecordNewer;
  put.creator = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  put.max_entries_per_creator = options_.max_keys_per_client;
  put.charge = charge;
  store_.Put(put, [&response, capacity = limiter_.capacity_tokens()](
                      const kv::WriteResult& result) {
    if (!AcceptStoreRate(result.rate, result.status, capacity, response)) return;
    if (result.status != kv::Status::kOk) return Fail(ErrorFor(result.status), response);
    response.status = 204;
    AppendValueHeaders(result.version, result.expires_at, response.in_flight.now,
                       response.extra_headers);
    Finish(response);
  });
}

}  // namespace rendezvous::http

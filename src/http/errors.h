// Every client-visible error, and the one place (errors.cc) that maps it to status and body.
//
// Bodies keep the original server's texts (message + "\n") where the original had the case, so
// clients that match on them keep working.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/response.h"
#include "kv/store.h"

namespace rendezvous::http {

enum class Error : uint8_t {
  kBadRequest,          // 400 "Bad Request\n" (malformed request line/headers; closes)
  kBadPercentEncoding,  // 400 "Bad Request: invalid percent-encoding\n"
  kMissingHost,         // 400 "Bad Request: missing required Host header\n" (closes)
  kBadTarget,           // 400 "Bad Request: unsupported request target\n" (*, host:port; closes)
  kKeyRequired,         // 400 "Key is required\n"
  kKeyTooLong,          // 400 "Key too long\n"
  kIpNameRequired,      // 400 "Name is required after /ip/\n"
  kBadTtl,              // 400 "Invalid X-TTL\n"
  kBadPrecondition,     // 400 "Invalid If-Match or If-None-Match\n"
  kForbidden,           // 403 "Forbidden: Incorrect secret\n"
  kForbiddenIpKey,      // 403 "Forbidden: key belongs to another address\n"
  kNotFound,            // 404 "Key not found\n"
  kMethodNotAllowed,    // 405 "Method Not Allowed\n" (+ Allow header, added by the caller)
  kTimeout,             // 408 "Request Timeout\n" (closes)
  kPreconditionFailed,  // 412 "Precondition Failed\n"
  // 414 "URI Too Long\n": a request-target over the connection's limit (closes: the rest of the
  // request was not read).
  kUriTooLong,
  kValueTooLarge,       // 413 "Value too large\n"
  kValuePlusSecretTooLarge,  // 413 "Value plus secret too large\n"
  kRateLimited,              // 429 "Rate limit\n" (+ Retry-After, added by the caller)
  // 429 "Key quota reached: too many live keys from your address\n". 429 and not 507: it is this
  // client's limit (-maxKeysPerIP), not the server's storage, and it clears as the client's keys
  // expire or are deleted.
  kQuotaReached,
  kHeaderTooLarge,   // 431 "Request Header Fields Too Large\n" (closes)
  kUnavailable,      // 503 "Service Unavailable\n" (+ Retry-After: 1, added by SetError)
  kCapacityReached,  // 507 "Store capacity reached\n"
  kStorageFull,      // 507 "Storage full\n" (the disk or the LMDB map is full)
  kBadWait,          // 400 "Invalid wait\n" (Prefer: wait=N or ?wait=N not a number of seconds)
  kTooManyWaitsClient,  // 429 "Too many waiting requests from your address\n"
  kTooManyWaits,        // 429 "Too many waiting requests on this server\n"
  // Signed keys (/pk/, pkarr/record.h): the key and record checks, and the store's
  // "newer timestamp" rule.
  // 400 "Bad Request: invalid public key (expected 52 z-base-32 characters)\n"
  kInvalidPublicKey,
  // 400 "Bad Request: record shorter than 72 bytes (signature and timestamp)\n"
  kRecordTooShort,
  kRecordValueTooLarge,  // 413 "Payload Too Large: v over 1000 bytes\n"
  kInvalidSignature,    // 400 "Bad Request: invalid signature\n"
  // 409 "Conflict: a newer record, or another record with the same timestamp, is stored\n"
  kConflict,
  // 403 "Forbidden: pk/ keys are written through /pk/ with a signed record\n": a write or DELETE
  // of a key "pk/..." through the key API (a percent-encoded /pk%2F...), which would bypass the
  // signature.
  kForbiddenPkKey,
  // 400 "Invalid limit: a whole number from 0 to 1000\n" (GET /ip/*/NAME?limit=N)
  kBadListLimit,
  kNotImplemented,   // 501 "Not Implemented\n" (unsupported Transfer-Encoding; closes)
  // Keep kNotImplemented last (kErrorCount), or move kErrorCount.
};

inline constexpr size_t kErrorCount = static_cast<size_t>(Error::kNotImplemented) + 1;

// What the server answers: a status, a body and what it means to a client. For an Error, `body`
// is the exact body and `closes` says whether the connection closes after it (protocol errors,
// after which the connection may be out of sync); for a success, `body` describes it.
struct Answer {
  int status;
  std::string_view body;
  std::string_view meaning;  // one line for a client, in plain text
  bool closes = false;
};

// Every Error's answer, indexed by the enum's value: the one table of client-visible errors.
// The index page renders its table of answers from it and from SuccessAnswers().
const std::array<Answer, kErrorCount>& ErrorAnswers();
const Answer& AnswerFor(Error error);

// The successes a client sees from the handlers (200, 204, 304), in status order.
std::span<const Answer> SuccessAnswers();

// Fills status, body, content type (text/plain; charset=utf-8) and nosniff for `error`, and
// clears gzip. For the errors marked "closes" (protocol errors, after which the connection may be
// out of sync) it also sets response.close; it never clears close. Leaves head and extra_headers
// as they are (so a HEAD answered with an error still has no body, and Allow/Retry-After added
// before or after survive), except that kUnavailable appends "Retry-After: 1": the store was
// unreachable or slow for a moment, and a client told when to come back does not retry at once.
void SetError(Error error, Response& response);

// The error for a store status other than kOk (kOk itself, a caller bug, gives kUnavailable).
Error ErrorFor(kv::Status status);

}  // namespace rendezvous::http

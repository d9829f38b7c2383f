// The one mapping from Error to status and body.
#include "http/errors.h"

namespace rendezvous::http {
namespace {

constexpr size_t Index(Error error) { return static_cast<size_t>(error); }

constexpr std::array<Answer, kErrorCount> MakeErrorTable() {
  std::array<Answer, kErrorCount> table{};
  auto set = [&table](Error error, Answer answer) { table[Index(error)] = answer; };
  set(Error::kBadRequest,
      {400, "Bad Request\n", "a malformed request line, header or body framing", true});
  set(Error::kBadPercentEncoding, {400, "Bad Request: invalid percent-encoding\n",
                                   "a % in the key not followed by two hex digits"});
  set(Error::kMissingHost,
      {400, "Bad Request: missing required Host header\n", "HTTP/1.1 without a Host header", true});
  set(Error::kBadTarget,
      {400, "Bad Request: unsupported request target\n", "a target such as * or host:port", true});
  set(Error::kKeyRequired, {400, "Key is required\n", "the key is empty"});
  set(Error::kKeyTooLong,
      {400, "Key too long\n",
       "the decoded key (for /ip/ keys, the address included) is over the key limit"});
  set(Error::kIpNameRequired, {400, "Name is required after /ip/\n", "a write to /ip/ alone"});
  set(Error::kBadTtl, {400, "Invalid X-TTL\n", "X-TTL is malformed, zero or negative"});
  set(Error::kBadPrecondition,
      {400, "Invalid If-Match or If-None-Match\n",
       "a malformed ETag list, or a condition the server cannot check on a write"});
  set(Error::kForbidden, {403, "Forbidden: Incorrect secret\n",
                          "the key has an owner and the secret is missing or wrong"});
  set(Error::kForbiddenIpKey, {403, "Forbidden: key belongs to another address\n",
                               "a DELETE of another address's ip/ key"});
  set(Error::kNotFound, {404, "Key not found\n", "no such key, or it expired"});
  set(Error::kMethodNotAllowed,
      {405, "Method Not Allowed\n", "a method the resource does not have (see the Allow header)"});
  set(Error::kTimeout, {408, "Request Timeout\n",
                        "the request or its answer took longer than the server waits", true});
  set(Error::kPreconditionFailed,
      {412, "Precondition Failed\n", "the If-Match or If-None-Match: * condition does not hold"});
  set(Error::kUriTooLong, {414, "URI Too Long\n",
                           "the request-target is longer than the server reads", true});
  set(Error::kValueTooLarge, {413, "Value too large\n", "the value is over the value limit"});
  set(Error::kValuePlusSecretTooLarge,
      {413, "Value plus secret too large\n", "value and secret together are over the value limit"});
  set(Error::kRateLimited, {429, "Rate limit\n", "out of tokens; retry after Retry-After seconds"});
  // 429 and not 507: it is this client's limit (-maxKeysPerIP), not the server's storage, and it
  // clears as the client's keys expire or are deleted.
  set(Error::kQuotaReached, {429, "Key quota reached: too many live keys from your address\n",
                             "a new key from an address that already created its quota of live "
                             "keys; it frees as they expire"});
  set(Error::kHeaderTooLarge, {431, "Request Header Fields Too Large\n",
                               "the request line and headers are over 8 KiB", true});
  set(Error::kBadWait, {400, "Invalid wait\n",
                        "Prefer: wait=N or ?wait=N where N is not a whole number of seconds"});
  set(Error::kTooManyWaitsClient,
      {429, "Too many waiting requests from your address\n",
       "your address already has its maximum of long polls (wait) open; close one first"});
  set(Error::kTooManyWaits, {429, "Too many waiting requests on this server\n",
                             "the server holds its maximum of long polls (-maxWaiters)"});
  set(Error::kInvalidPublicKey,
      {400, "Bad Request: invalid public key (expected 52 z-base-32 characters)\n",
       "the key after /pk/ is not an ed25519 public key in z-base-32"});
  set(Error::kRecordTooShort,
      {400, "Bad Request: record shorter than 72 bytes (signature and timestamp)\n",
       "a /pk/ write whose body cannot hold a signature and a timestamp"});
  set(Error::kRecordValueTooLarge, {413, "Payload Too Large: v over 1000 bytes\n",
                                    "a /pk/ record whose v is over 1000 bytes"});
  set(Error::kInvalidSignature,
      {400, "Bad Request: invalid signature\n",
       "the /pk/ record's signature does not verify under the key"});
  set(Error::kConflict,
      {409, "Conflict: a newer record, or another record with the same timestamp, is stored\n",
       "a /pk/ record older than the stored one, or as old with other bytes"});
  set(Error::kForbiddenPkKey,
      {403, "Forbidden: pk/ keys are written through /pk/ with a signed record\n",
       "a write or DELETE of a key pk/... by any other path than /pk/"});
  set(Error::kBadListLimit, {400, "Invalid limit: a whole number from 0 to 1000\n",
                             "a listing (/ip/*/NAME) whose ?limit= is not 0 to 1000"});
  set(Error::kNotImplemented,
      {501, "Not Implemented\n", "a Transfer-Encoding the server does not support", true});
  set(Error::kUnavailable,
      {503, "Service Unavailable\n", "the store cannot answer right now; retry later"});
  set(Error::kCapacityReached,
      {507, "Store capacity reached\n", "the server holds its maximum number of keys"});
  set(Error::kStorageFull, {507, "Storage full\n", "the server's disk or database is full"});
  return table;
}

constexpr std::array<Answer, kErrorCount> kErrorTable = MakeErrorTable();

// Every Error has its entry: a status of 0 is one the table forgot.
constexpr bool EveryErrorHasAnAnswer() {
  for (const Answer& answer : kErrorTable) {
    if (answer.status == 0 || answer.body.empty()) return false;
  }
  return true;
}
static_assert(EveryErrorHasAnAnswer(), "an Error without an entry in MakeErrorTable");

constexpr Answer kSuccessTable[] = {
    {200, "OK, the value, your address, or a listing (JSON)", "done"},
    {204, "none", "deleted; a /pk/ record stored; or the answer to OPTIONS"},
    {304, "none", "the value (or listing) still has the ETag of If-None-Match"},
};

}  // namespace

const std::array<Answer, kErrorCount>& ErrorAnswers() { return kErrorTable; }

const Answer& AnswerFor(Error error) {
  const size_t index = Index(error);
  // An out-of-range value is a caller bug; answer it as the safest failure, which closes.
  return index < kErrorTable.size() ? kErrorTable[index] : kErrorTable[Index(Error::kBadRequest)];
}

std::span<const Answer> SuccessAnswers() { return kSuccessTable; }

void SetError(Error error, Response& response) {
  const Answer& answer = AnswerFor(error);
  response.status = answer.status;
  response.body.assign(answer.body.data(), answer.body.size());
  response.content_type = ContentType::kTextPlain;
  response.gzip = false;
  response.nosniff = true;
  if (answer.closes) response.close = true;
  if (error == Error::kUnavailable) response.extra_headers.append("Retry-After: 1\r\n");
}

Error ErrorFor(kv::Status status) {
  switch (status) {
    case kv::Status::kNotFound:
      return Error::kNotFound;
    case kv::Status::kForbidden:
      return Error::kForbidden;
    case kv::Status::kCapacityReached:
      return Error::kCapacityReached;
    case kv::Status::kQuotaReached:
      return Error::kQuotaReached;
    case kv::Status::kPreconditionFailed:
      return Error::kPreconditionFailed;
    case kv::Status::kConflict:
      return Error::kConflict;
    case kv::Status::kStorageFull:
      return Error::kStorageFull;
    case kv::Status::kUnavailable:
      return Error::kUnavailable;
    case kv::Status::kRateLimited:
      return Error::kRateLimited;
    case kv::Status::kOk:
      break;  // not an error; a caller bug, answered as the safest failure
  }
  return Error::kUnavailable;
}

}  // namespace rendezvous::http

// The one mapping from Error to status and body.
#include "http/errors.h"

namespace rendezvous::http {
namespace {

struct ErrorShape {
  int status;
  std::string_view body;
  bool closes;  // protocol errors: the connection cannot be trusted to be in sync any more
};

ErrorShape ShapeOf(Error error) {
  switch (error) {
    case Error::kBadRequest:
      return {400, "Bad Request\n", true};
    case Error::kBadPercentEncoding:
      return {400, "Bad Request: invalid percent-encoding\n", false};
    case Error::kMissingHost:
      return {400, "Bad Request: missing required Host header\n", true};
    case Error::kBadTarget:
      return {400, "Bad Request: unsupported request target\n", true};
    case Error::kKeyRequired:
      return {400, "Key is required\n", false};
    case Error::kKeyTooLong:
      return {400, "Key too long\n", false};
    case Error::kIpNameRequired:
      return {400, "Name is required after /ip/\n", false};
    case Error::kBadTtl:
      return {400, "Invalid X-TTL\n", false};
    case Error::kBadPrecondition:
      return {400, "Invalid If-Match or If-None-Match\n", false};
    case Error::kForbidden:
      return {403, "Forbidden: Incorrect secret\n", false};
    case Error::kForbiddenIpKey:
      return {403, "Forbidden: key belongs to another address\n", false};
    case Error::kNotFound:
      return {404, "Key not found\n", false};
    case Error::kMethodNotAllowed:
      return {405, "Method Not Allowed\n", false};
    case Error::kTimeout:
      return {408, "Request Timeout\n", true};
    case Error::kPreconditionFailed:
      return {412, "Precondition Failed\n", false};
    case Error::kUriTooLong:
      return {414, "URI Too Long\n", true};
    case Error::kValueTooLarge:
      return {413, "Value too large\n", false};
    case Error::kValuePlusSecretTooLarge:
      return {413, "Value plus secret too large\n", false};
    case Error::kRateLimited:
      return {429, "Rate limit\n", false};
    case Error::kQuotaReached:
      return {429, "Key quota reached: too many live keys from your address\n", false};
    case Error::kHeaderTooLarge:
      return {431, "Request Header Fields Too Large\n", true};
    case Error::kUnavailable:
      return {503, "Service Unavailable\n", false};
    case Error::kCapacityReached:
      return {507, "Store capacity reached\n", false};
    case Error::kStorageFull:
      return {507, "Storage full\n", false};
    case Error::kNotImplemented:
      return {501, "Not Implemented\n", true};
  }
  return {400, "Bad Request\n", true};  // unreachable with a valid enum value
}

}  // namespace

void SetError(Error error, Response& response) {
  const ErrorShape shape = ShapeOf(error);
  response.status = shape.status;
  response.body.assign(shape.body.data(), shape.body.size());
  response.content_type = ContentType::kTextPlain;
  response.gzip = false;
  response.nosniff = true;
  if (shape.closes) response.close = true;
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
    case kv::Status::kStorageFull:
      return Error::kStorageFull;
    case kv::Status::kUnavailable:
      return Error::kUnavailable;
    case kv::Status::kOk:
      break;  // not an error; a caller bug, answered as the safest failure
  }
  return Error::kUnavailable;
}

}  // namespace rendezvous::http

// POST and PUT (store a value) and DELETE of a key, with their conditions.
#include <atomic>
#include <memory>
#include <utility>

#include "http/handler.h"
#include "http/key_headers.h"

namespace rendezvous::http {
namespace {

// A write reply: on success the new ETag and expiry join the body prepared before the store call
// ("OK" or the client address), else the store's error replaces it.
void OnWritten(const kv::WriteResult& result, Response& response) {
  if (result.status == kv::Status::kOk) {
    AppendValueHeaders(result.version, result.expires_at, response.in_flight.now,
                       response.extra_headers);
  } else {
    SetError(ErrorFor(result.status), response);
  }
}

}  // namespace

void Handler::HandleWrite(const Request& request, bool ip_key, absl::Duration lifetime,
                          const WriteCondition& condition, const kv::RateCharge& charge,
                          Response& response) {
  // The original's rule: with a secret, the secret counts against the value limit and the
  // message says so; a body cut off at the limit is over it either way.
  const std::string_view secret = request.owner_secret;  // empty: none (as the original)
  const size_t limit = options_.max_value_bytes;
  if (!secret.empty()) {
    if (request.body_too_large || secret.size() > limit ||
        request.body.size() > limit - secret.size()) {
      return Fail(Error::kValuePlusSecretTooLarge, response);
    }
  } else if (request.body_too_large || request.body.size() > limit) {
    return Fail(Error::kValueTooLarge, response);
  }

  // Prepared before the store call: after it, `request` may be gone (the callback can run on
  // another thread after the connection moved on) and the callback only has `response`.
  if (!ip_key) response.body.assign("OK");  // ip/ keys answer the address, already in the body
  response.status = 200;
  response.content_type = ContentType::kTextPlain;

  kv::PutRequest put;
  put.key = response.in_flight.key;
  put.value = request.body;
  put.secret = secret;
  put.now = response.in_flight.now;
  put.expires_at = put.now + lifetime;
  put.precondition = condition.precondition;
  put.creator = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  put.max_entries_per_creator = options_.max_keys_per_client;
  put.charge = charge;
  response.in_flight.store_started_nanos = clock_.MonotonicNanos();
  store_.Put(put, [this, &response](const kv::WriteResult& result) {
    stats_.RecordStoreOp(KeyStats::Op::kPut, result.status, StoreElapsedNanos(response));
    if (!AcceptStoreRate(result.rate, result.status, response)) return;
    OnWritten(result, response);
    Finish(response);
  });
}

void Handler::HandleDelete(const Request& request, const IfMatch& if_match,
                           const kv::RateCharge& charge, Response& response) {
  const std::string& key = response.in_flight.key;
  if (key.starts_with("ip/") && !OwnsIpKey(key, request.client)) {
    return Fail(Error::kForbiddenIpKey, response);
  }
  kv::DeleteRequest remove;
  remove.key = key;
  remove.secret = request.owner_secret;
  remove.now = response.in_flight.now;
  if (if_match.kind == IfMatch::Kind::kVersion) {
    remove.precondition = {kv::Precondition::Kind::kIfMatch, if_match.version};
  } else if (if_match.kind == IfMatch::Kind::kAny) {
    remove.precondition.kind = kv::Precondition::Kind::kIfExists;  // missing: 412, not 404
  }
  remove.charge = charge;
  response.in_flight.store_started_nanos = clock_.MonotonicNanos();
  store_.Delete(remove, [this, &response](const kv::WriteResult& result) {
    stats_.RecordStoreOp(KeyStats::Op::kDelete, result.status, StoreElapsedNanos(response));
    if (!AcceptStoreRate(result.rate, result.status, response)) return;
    if (result.status == kv::Status::kOk) {
      response.status = 204;
      return Finish(response);
    }
    Fail(ErrorFor(result.status), response);
  });
}

bool Handler::OwnsIpKey(std::string_view key, const common::IpAddress& client) const {
  std::string_view address_text = key.substr(3);  // after "ip/"
  address_text = address_text.substr(0, address_text.find('/'));
  const std::optional<common::IpAddress> address = common::IpAddress::Parse(address_text);
  // A second segment that is no address names no client: no POST or PUT can have created it.
  return address.has_value() && ratelimit::ClientKey::For(*address, options_.ipv6_prefix_bits) ==
                                    ratelimit::ClientKey::For(client, options_.ipv6_prefix_bits);
}

}  // namespace rendezvous::http

// GET and HEAD of a key: the value with its ETag and expiry, or 304 when If-None-Match matches.
#include "http/etag.h"
#include "http/handler.h"
#include "http/key_headers.h"

namespace rendezvous::http {

bool Handler::AcceptStoreRate(const std::optional<ratelimit::Decision>& rate, kv::Status status,
                              Response& response) {
  if (!rate) return true;
  AppendRateLimitHeaders(*rate, rate_limit_line_, response.extra_headers);
  if (status != kv::Status::kRateLimited) return true;
  stats_.RecordRateLimited();
  Fail(Error::kRateLimited, response);
  return false;
}

void Handler::AnswerRead(const kv::GetResult& result, Response& response) {
  if (result.status != kv::Status::kOk) return SetError(ErrorFor(result.status), response);
  const kv::EntryView& entry = result.entry;
  // A 304 carries the headers a 200 would (RFC 9110 section 15.4.5), but no body.
  AppendValueHeaders(entry.version, entry.expires_at, response.in_flight.now,
                     response.extra_headers);
  const std::string& if_none_match = response.in_flight.if_none_match;
  if (!if_none_match.empty() && IfNoneMatchMatches(if_none_match, entry.version)) {
    response.status = 304;
  } else {
    response.status = 200;
    response.content_type = ContentType::kOctetStream;
    response.body.assign(entry.value.data(), entry.value.size());
  }
}

void Handler::HandleGet(const kv::RateCharge& charge, Response& response) {
  // The callback captures only the Handler and the Response (what it needs is in
  // response.in_flight), so it fits AnyInvocable's inline storage: a GET allocates nothing. HEAD
  // fills the body too: AppendResponse needs its length and leaves it out.
  response.in_flight.store_started_nanos = clock_.MonotonicNanos();
  store_.ChargedGet(response.in_flight.key, response.in_flight.now, charge,
                    [this, &response](const kv::GetResult& result) {
                      stats_.RecordStoreOp(KeyStats::Op::kGet, result.status,
                                           StoreElapsedNanos(response));
                      if (!AcceptStoreRate(result.rate, result.status, response)) return;
                      AnswerRead(result, response);
                      Finish(response);
                    });
}

}  // namespace rendezvous::http

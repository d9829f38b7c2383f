// GET and HEAD with a wait (long poll): park the request until its key changes, its wait ends,
// the client leaves or the server shuts down. See docs/ARCHITECTURE.md, "Long poll".
#include "http/etag.h"
#include "http/handler.h"
#include "http/long_poll.h"

namespace rendezvous::http {
namespace {

// Whether the key's state answers the request at once: with If-None-Match, a key that is missing
// or whose ETag differs; without, a live key. Otherwise the request waits for a change.
bool AnswersAtOnce(const kv::GetResult& result, const std::string& if_none_match) {
  if (result.status == kv::Status::kUnavailable) return true;
  if (if_none_match.empty()) return result.status == kv::Status::kOk;
  return result.status != kv::Status::kOk ||
         !IfNoneMatchMatches(if_none_match, result.entry.version);
}

}  // namespace

void Handler::HandleWaitingGet(const Request& request, absl::Duration wait, Response& response) {
  const std::string_view key = response.in_flight.key;  // not modified until the answer
  const absl::Time now = response.in_flight.now;
  // Linked before the read: a write that lands between the read and the link would otherwise
  // be missed. Whoever fires the waiter first (this read, a write, the end of the wait, the
  // client leaving, shutdown) answers; from the link on, a write may fire it on the waker, so
  // this thread writes nothing more into `response` unless it fired the waiter itself.
  const auto client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  switch (Park(*waiters_, WaitOn::kKey, /*answerer=*/nullptr, client, wait, response)) {
    case WaiterRegistry::AddResult::kAdded:
      break;
    case WaiterRegistry::AddResult::kClientFull:
      return Fail(Error::kTooManyWaitsClient, response);
    case WaiterRegistry::AddResult::kFull:
      return Fail(Error::kTooManyWaits, response);
    case WaiterRegistry::AddResult::kClosed:
      // Shutting down: answer at once (waits exist only where the Handler charged the limiter).
      return HandleGet(kv::RateCharge{}, response);
  }
  const int64_t started_nanos = clock_.MonotonicNanos();
  store_.Get(key, now, [this, &response, started_nanos](const kv::GetResult& result) {
    const int64_t answered_nanos = clock_.MonotonicNanos();
    stats_.RecordStoreOp(KeyStats::Op::kGet, result.status, answered_nanos - started_nanos);
    if (!AnswersAtOnce(result, response.in_flight.if_none_match)) return;  // parked
    if (!waiters_->Fire(response.in_flight.key, response.in_flight.waiter)) return;
    response.in_flight.store_answered_nanos = answered_nanos;
    AnswerRead(result, response);
    Finish(response);
  });
}

void Handler::AnswerFired(Response& response) {
  // The state now decides: a changed value is 200, a missing key 404, an unchanged one 304.
  response.in_flight.now = clock_.Now();
  HandleGet(kv::RateCharge{}, response);
}

}  // namespace rendezvous::http

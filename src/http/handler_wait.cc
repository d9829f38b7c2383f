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

void Handler::HandleWaitingGet(const Request& request, absl::Duration wait,
                               const kv::RateCharge& charge, Response& response) {
  const std::string_view key = response.in_flight.key;  // not modified until the answer
  const absl::Time now = response.in_flight.now;
  // Linked before the read: a write that lands between the read and the link would otherwise
  // be missed. Pinned meanwhile: a write, the wait's end, the client leaving or shutdown only
  // record themselves, and the read's completion decides (FinishRead); on an engine that answers
  // later on its own thread (Redis) that completion still needs the Response. From FinishRead's
  // kParked on, whoever fires the waiter answers, and this request touches nothing more.
  const auto client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  const auto added = Park(*waiters_, WaitOn::kKey, *this, client, wait, response);
  if (added != WaiterRegistry::AddResult::kAdded) {
    if (const std::optional<Error> error = WaitCapError(added)) return Fail(*error, response);
    return HandleGet(charge, response);  // shutting down: at once, charged as any GET
  }
  // On a store that ChargesRateLimit this read pays the wait's token (a refusal is answered at
  // once); a parked request's answer reports the bucket as it stands then (ReportCharge).
  const int64_t started_nanos = clock_.MonotonicNanos();
  store_.ChargedGet(
      key, now, charge, [this, &response, started_nanos](const kv::GetResult& result) {
        const int64_t answered_nanos = clock_.MonotonicNanos();
        stats_.RecordStoreOp(KeyStats::Op::kGet, result.status, answered_nanos - started_nanos);
        const bool answers = result.status == kv::Status::kRateLimited ||
                             AnswersAtOnce(result, response.in_flight.if_none_match);
        if (waiters_->FinishRead(response.in_flight.key, response.in_flight.waiter, answers) !=
            WaiterRegistry::ReadOutcome::kAnswer) {
          return;  // parked, or queued for the waker to read again
        }
        // The result answers, or the wait ended (or the client left) during the read: 304/404.
        response.in_flight.store_answered_nanos = answered_nanos;
        if (!AcceptStoreRate(result.rate, result.status, response)) return;  // 429, finished
        AnswerRead(result, response);
        Finish(response);
      });
}

void Handler::AnswerFired(Response& response) {
  // The state now decides: a changed value is 200, a missing key 404, an unchanged one 304.
  response.in_flight.now = clock_.Now();
  HandleGet(ReportCharge(store_, response), response);
}

void Handler::RecheckWoken(Response& response) {
  // A wake says that the key may have changed, not what the waiter waits for: the message of a
  // write it had read already (Redis delivers it on another connection, possibly after the
  // waiter's read), or a wake of every waiter after the store could not hear for a while. So the
  // key is read again and the request answered only when that answers it; otherwise it stays
  // parked with the rest of its wait. Linked (pinned) before that read, as the first read is.
  // Not linked again (the wait is over, shutdown, the caps are full now): answered from the
  // state (304 or 404 when unchanged).
  if (!ParkAgain(*waiters_, response)) return AnswerFired(response);
  response.in_flight.now = clock_.Now();
  response.in_flight.store_started_nanos = clock_.MonotonicNanos();
  store_.ChargedGet(
      response.in_flight.key, response.in_flight.now, ReportCharge(store_, response),
      [this, &response](const kv::GetResult& result) {
        stats_.RecordStoreOp(KeyStats::Op::kGet, result.status, StoreElapsedNanos(response));
        const bool answers = AnswersAtOnce(result, response.in_flight.if_none_match);
        if (waiters_->FinishRead(response.in_flight.key, response.in_flight.waiter, answers) !=
            WaiterRegistry::ReadOutcome::kAnswer) {
          return;  // parked again, or queued again by a newer wake
        }
        if (!AcceptStoreRate(result.rate, result.status, response)) return;
        AnswerRead(result, response);
        Finish(response);
      });
}

}  // namespace rendezvous::http

// Parking a long-poll request: see long_poll.h.
#include "http/long_poll.h"

#include <utility>

namespace rendezvous::http {

WaiterRegistry::AddResult Park(WaiterRegistry& registry, WaitOn on, WaitAnswerer& answerer,
                               const std::array<uint8_t, 16>& client, absl::Duration wait,
                               Response& response) {
  Waiter& waiter = response.in_flight.waiter;
  waiter.response = &response;
  waiter.ended = false;  // nobody else holds the waiter before Add
  waiter.on = on;
  waiter.answerer = &answerer;
  waiter.client = client;
  // Read only by the connection, after Handle returned (both on its thread, while it owns the
  // Response; see connection.h).
  response.in_flight.wait = wait;
  // If a wake holds the waiter (fired, re-reading) when the wait ends or the client leaves, End
  // marks it so that the wake answers instead of parking it again.
  response.in_flight.expire = [&registry, &answerer, &response] {
    if (registry.End(response.in_flight.key, response.in_flight.waiter)) {
      answerer.AnswerFired(response);
    }
  };
  response.in_flight.cancel = [&registry, &response] {
    if (!registry.End(response.in_flight.key, response.in_flight.waiter)) return;
    Done done = std::move(response.in_flight.done);  // moved out first: the Response may be reused
    done();
  };
  return registry.Add(response.in_flight.key, waiter, /*pin=*/true);
}

kv::RateCharge ReportCharge(const kv::Store& store, const Response& response) {
  kv::RateCharge report;
  if (store.ChargesRateLimit()) {
    report.client = response.in_flight.waiter.client;
    report.report_only = true;
  }
  return report;
}

std::optional<Error> WaitCapError(WaiterRegistry::AddResult result) {
  switch (result) {
    case WaiterRegistry::AddResult::kClientFull:
      return Error::kTooManyWaitsClient;
    case WaiterRegistry::AddResult::kFull:
      return Error::kTooManyWaits;
    case WaiterRegistry::AddResult::kAdded:
    case WaiterRegistry::AddResult::kClosed:
    case WaiterRegistry::AddResult::kEnded:
      break;
  }
  return std::nullopt;
}

bool ParkAgain(WaiterRegistry& registry, Response& response) {
  return registry.Add(response.in_flight.key, response.in_flight.waiter, /*pin=*/true) ==
         WaiterRegistry::AddResult::kAdded;
}

}  // namespace rendezvous::http

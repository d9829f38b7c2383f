// Parking a long-poll request: see long_poll.h.
#include "http/long_poll.h"

#include <utility>

namespace rendezvous::http {

WaiterRegistry::AddResult Park(WaiterRegistry& registry, WaitOn on, WaitAnswerer* answerer,
                               const std::array<uint8_t, 16>& client, absl::Duration wait,
                               Response& response) {
  Waiter& waiter = response.in_flight.waiter;
  waiter.response = &response;
  waiter.client = client;
  // Read only by the connection, after Handle returned (both on its thread, while it owns the
  // Response; see connection.h).
  response.in_flight.wait = wait;
  response.in_flight.expire = [&registry, &response] {
    if (registry.Fire(response.in_flight.key, response.in_flight.waiter)) {
      registry.Answer(response.in_flight.waiter);
    }
  };
  response.in_flight.cancel = [&registry, &response] {
    if (!registry.Fire(response.in_flight.key, response.in_flight.waiter)) return;
    Done done = std::move(response.in_flight.done);  // moved out first: the Response may be reused
    done();
  };
  return registry.Add(response.in_flight.key, waiter, on, answerer);
}

}  // namespace rendezvous::http

// Parking a long-poll request: the part every kind of wait shares (a GET of a key with a wait,
// handler_wait.cc; a listing with a wait, list_handler.cc). It links the request's Waiter in the
// WaiterRegistry and sets the hooks net/ calls (Response::InFlight::wait, expire, cancel), so that
// the firing rule of waiters.h holds for both: whoever unlinks the waiter answers.
//
// Thread-safety: Park runs on the connection's thread in Handle; the hooks it sets run on that
// thread too (net/ calls them), and may race with a write firing the waiter on the waker, which
// the registry's stripe lock settles.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "http/response.h"
#include "http/waiters.h"

namespace rendezvous::http {

// Links response.in_flight.waiter under response.in_flight.key (which must not change until the
// answer) in the map of `on`, charged to `client` (ratelimit::ClientKey bytes), and sets
// in_flight.wait = `wait`; in_flight.expire (the wait's end: fires the waiter and has
// `answerer` answer on the calling thread; null answerer: the registry's `fired`) and
// in_flight.cancel (the client left: fires the waiter and runs in_flight.done). Returns the
// registry's answer; only kAdded leaves the request parked. From kAdded on, a write may fire the
// waiter on the waker: the caller then writes into `response` only after a Fire that returned
// true.
[[nodiscard]] WaiterRegistry::AddResult Park(WaiterRegistry& registry, WaitOn on,
                                             WaitAnswerer* answerer,
                                             const std::array<uint8_t, 16>& client,
                                             absl::Duration wait, Response& response);

}  // namespace rendezvous::http

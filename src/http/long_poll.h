// Parking a long-poll request: the part every kind of wait shares (a GET of a key with a wait,
// handler_wait.cc; a listing with a wait, list_handler.cc). It links the request's Waiter in the
// WaiterRegistry, pinned for the request's first read, and sets the hooks net/ calls
// (Response::InFlight::wait, expire, cancel), so that the firing rule of waiters.h holds for
// both: whoever unlinks the waiter answers, through the kind's WaitAnswerer.
//
// Thread-safety: Park runs on the connection's thread in Handle; the hooks it sets run on that
// thread too (net/ calls them), and may race with a wake firing the waiter on the waker, which
// the registry's stripe lock settles.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "http/errors.h"
#include "http/response.h"
#include "http/waiters.h"
#include "kv/store.h"

namespace rendezvous::http {

// Links response.in_flight.waiter under response.in_flight.key (which must not change until the
// answer) in the map of `on`, pinned, charged to `client` (ratelimit::ClientKey bytes), with
// `answerer` to re-check it when fired; sets in_flight.wait = `wait`, in_flight.expire (the
// wait's end: End, and `answerer` answers on the calling thread when that fired it) and
// in_flight.cancel (the client left: End, and in_flight.done runs when that fired it). Returns
// the registry's answer; on kAdded the caller reads the state and must then call FinishRead,
// which says whether it answers; from a kParked on it touches `response` no more.
[[nodiscard]] WaiterRegistry::AddResult Park(WaiterRegistry& registry, WaitOn on,
                                             WaitAnswerer& answerer,
                                             const std::array<uint8_t, 16>& client,
                                             absl::Duration wait, Response& response);

// The 429 for a Park refused by a cap (per client or in total); nullopt for any other result
// (kAdded, or kClosed/kEnded: shutting down, answered at once as an ordinary read).
std::optional<Error> WaitCapError(WaiterRegistry::AddResult result);

// Links a woken waiter again, pinned, before the read that re-checks it (WaitAnswerer::
// RecheckWoken). False when it may not wait any longer (its wait ended or the client left while
// the wake held it, shutdown, or the caps are full now): the caller then answers from the state
// as at the wait's end (AnswerFired).
[[nodiscard]] bool ParkAgain(WaiterRegistry& registry, Response& response);

// The charge of a read that answers or re-checks a parked request: nothing (its first read paid
// the wait's token), but a store that ChargesRateLimit reports the client's bucket for the
// RateLimit headers.
kv::RateCharge ReportCharge(const kv::Store& store, const Response& response);

}  // namespace rendezvous::http

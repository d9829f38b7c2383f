// What a request on a key costs in rate-limit tokens: the one definition, used by the handler,
// the index page's text and the configuration's lower bound on -maxRequests.
//
// Constants only; thread-safe.
#pragma once

#include <cstdint>

namespace rendezvous::http {

// A write (POST, PUT) or a DELETE: it changes the store, and a write may create a key.
inline constexpr int64_t kWriteCostTokens = 3;
// Every other request on a key (GET, HEAD, and methods answered 405). The index page and CORS
// preflights (OPTIONS) cost nothing.
inline constexpr int64_t kOtherCostTokens = 1;

}  // namespace rendezvous::http

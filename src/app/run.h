// Run: wires the components from a validated Config and serves until SIGINT or SIGTERM.
//
// Order of the life of a process: open the store (the only step that may refuse to start with
// existing data), build the limiter, the index page and the handler, bind the sockets, serve;
// on a signal stop accepting, finish requests in flight, flush the store, exit 0.
#pragma once

#include "app/config.h"

namespace rendezvous::app {

// Returns the process exit code: 0 after a clean shutdown, 1 when start-up failed (the reason is
// logged as one line).
int Run(const Config& config);

}  // namespace rendezvous::app

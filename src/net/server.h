// Server: the listening side of rendezvous — N workers (one io_context, one listening socket and
// one thread each) sharing one Handler.
//
// Thread-safety: Start() and Shutdown() from one controlling thread (main).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "http/request_handler.h"
#include "net/connection_limiter.h"
#include "net/options.h"

namespace rendezvous::net {

class Worker;

class Server {
 public:
  Server(const ServerOptions& options, http::RequestHandler& handler, const common::Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's socket and starts the threads. Returns false with a one-line `error`
  // naming the address, e.g. "cannot listen on 0.0.0.0:80: Address already in use (another
  // server is listening on this port)" or "...: Permission denied". A port another process
  // already serves is refused even when that process shares it with SO_REUSEPORT (see worker.h).
  [[nodiscard]] bool Start(std::string* error);
  // The bound port (the real one when options.port was 0).
  uint16_t port() const { return port_; }

  // Stops accepting, lets requests in progress finish (up to `grace`), then stops the threads.
  // Returns false if the grace period ran out with connections still busy.
  bool Shutdown(absl::Duration grace);

 private:
  ServerOptions options_;
  http::RequestHandler& handler_;
  const common::Clock& clock_;
  ConnectionLimiter connections_;  // outlives the workers and their sessions
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace rendezvous::net

// Server: the listening side of rendezvous — N workers (one io_context, one listening socket and
// one thread each) sharing one RequestHandler (the public Router, or another listener's). With a
// TlsListener, each worker also listens on the TLS port; both listeners share the connection caps
// and every deadline.
//
// Metrics, when given a registry: rendezvous_connections (open connections, read at scrape time
// from the connection caps' count) and rendezvous_connections_refused_total{reason="total" or
// "per_client"} (connections closed after accept by -maxConnections or -maxConnectionsPerIP).
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
#include "common/log.h"
#include "common/stats.h"
#include "http/request_handler.h"
#include "net/connection_limiter.h"
#include "net/options.h"
#include "net/tls_context.h"
#include "net/worker.h"

namespace rendezvous::net {

// The TLS listener, on the same address as the plain one.
struct TlsListener {
  TlsContexts* contexts = nullptr;  // null: no TLS listener; must outlive the server
  uint16_t port = 443;              // 0: the kernel picks one (tests); Server::tls_port() tells
  // Set: the plain listener answers with this handler instead (-redirectHTTP: 308 to https).
  http::RequestHandler* plain_handler = nullptr;
};

class Server {
 public:
  // `stats` (may be null: nothing registered) must outlive the Server.
  Server(const ServerOptions& options, http::RequestHandler& handler, const common::Clock& clock,
         common::StatsRegistry* stats = nullptr, TlsListener tls = {});
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
  uint16_t tls_port() const { return tls_port_; }
  // The workers' io_contexts (after Start; they live as long as the Server), for a component that
  // runs work of its own on the worker threads (the Redis client's worker connections).
  std::vector<boost::asio::io_context*> worker_io_contexts();

  // Stops accepting, lets requests in progress finish (up to `grace`), then stops the threads.
  // Returns false if the grace period ran out with connections still busy.
  bool Shutdown(absl::Duration grace);

 private:
  ServerOptions options_;
  http::RequestHandler& handler_;
  const common::Clock& clock_;
  ConnectionLimiter connections_;      // outlives the workers and their sessions
  common::Counter own_refused_total_;  // when no registry was given
  common::Counter own_refused_per_client_;
  RefusedConnections refused_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  const TlsListener tls_;
  common::LogThrottle tls_handshake_log_{absl::Minutes(1)};  // shared by the workers
  uint16_t tls_port_ = 0;
};

}  // namespace rendezvous::net

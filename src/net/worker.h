// Worker: one I/O thread — its own io_context, its own listening socket (SO_REUSEPORT: the
// kernel spreads new connections over the workers), its sessions and a one-second tick.
//
// SO_REUSEPORT would also let a second server process join the port and take a share of the
// connections; the first socket's exclusive bind (PortClaim::kExclusive) makes a second
// rendezvous-server fail at start instead. (Any same-user program that binds with SO_REUSEPORT
// itself can still join: that is what the option means, and the kernel offers no way to close a
// group to newcomers.)
//
// No strand and no lock on the request path: everything a worker owns is touched only from its
// thread. The tick refreshes the cached Date header and enforces every session deadline, so no
// connection carries a timer of its own.
//
// Thread-safety: Listen() before Run(); Run() on the worker's thread; BeginShutdown() and Stop()
// from any thread; the rest only from the worker's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "http/request_handler.h"
#include "net/connection_limiter.h"
#include "net/options.h"

namespace rendezvous::net {

class Session;

class Worker {
 public:
  Worker(const ServerOptions& options, http::RequestHandler& handler, const common::Clock& clock,
         ConnectionLimiter& connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // How a worker's listening socket claims its port.
  enum class PortClaim {
    // The server's first socket: the bind itself is exclusive (no SO_REUSEPORT yet), so it fails
    // with address_in_use when any socket already holds the port, including another server's
    // SO_REUSEPORT group; only after the bind does the socket allow sharing, for the next ones.
    kExclusive,
    // The server's other sockets: join the first one's SO_REUSEPORT group on its port.
    kJoin,
  };

  // Binds and listens on this worker's socket. `endpoint`'s port 0 picks a free port (kExclusive
  // only; the workers after the first pass the port the first one got). Returns the error of the
  // step that failed, with `*failed_step` naming it ("cannot listen on", ...); nothing on
  // success. On failure the socket is closed.
  [[nodiscard]] boost::system::error_code Listen(const boost::asio::ip::tcp::endpoint& endpoint,
                                                 bool dual_stack, PortClaim claim,
                                                 const char** failed_step);
  uint16_t local_port() const;

  // Serves until shutdown has finished (or Stop()).
  void Run();
  // Stops accepting; idle connections close, busy ones after their current response.
  void BeginShutdown();
  // Ends Run() at once (after the grace period of a shutdown).
  void Stop();

  // For sessions.
  const ServerOptions& options() const { return options_; }
  http::RequestHandler& handler() { return handler_; }
  const std::string& date() const { return date_; }
  int64_t now_ms() const { return now_ms_; }
  boost::asio::io_context& io_context() { return io_context_; }
  ConnectionLimiter& connections() { return connections_; }
  void Remove(Session* session);

 private:
  void DoAccept();
  void OnAccept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void DoTick();
  void OnTick();
  void RefreshTime();

  const ServerOptions& options_;
  http::RequestHandler& handler_;
  const common::Clock& clock_;
  ConnectionLimiter& connections_;
  boost::asio::io_context io_context_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_context_};
  boost::asio::steady_timer tick_{io_context_};
  boost::asio::steady_timer accept_retry_{io_context_};
  Session* sessions_ = nullptr;  // intrusive list head
  size_t session_count_ = 0;
  bool shutting_down_ = false;
  common::LogThrottle accept_error_log_{absl::Minutes(1)};
  common::LogThrottle refused_log_{absl::Minutes(1)};
  std::string date_;
  int64_t now_ms_ = 0;
};

}  // namespace rendezvous::net

// Worker: one I/O thread — its own io_context, its own listening socket (SO_REUSEPORT: the
// kernel spreads new connections over the workers), its sessions and a one-second tick. With TLS,
// a second listening socket (the TLS port, same rules) whose connections run a TlsSession; both
// kinds share the connection caps, the deadlines and the tick.
//
// SO_REUSEPORT would also let a second server process join the port and take a share of the
// connections; the first socket's exclusive bind (PortClaim::kExclusive) makes a second
// rendezvous-server fail at start instead. (Any same-user program that binds with SO_REUSEPORT
// itself can still join: that is what the option means, and the kernel offers no way to close a
// group to newcomers.)
//
// Connections (plain and TLS) and the listening sockets wait on the worker's Poller (edge-triggered
// epoll of its own; accept4 takes a batch of new connections, already non-blocking, with their
// addresses).
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
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "http/request_handler.h"
#include "net/connection_limiter.h"
#include "net/options.h"
#include "net/poller.h"
#include "net/tls_context.h"

namespace rendezvous::net {

class SessionBase;

// The TLS side of a worker (net::Server fills it from its TlsListener).
struct WorkerTls {
  TlsContexts* contexts = nullptr;  // null: no TLS listener
  // The plain listener's handler when it is not the TLS one (-redirectHTTP's redirect).
  http::RequestHandler* plain_handler = nullptr;
  // Failed handshakes, shared by every worker (one line a minute for the whole server).
  common::LogThrottle* handshake_log = nullptr;
};

// Connections closed right after accept because a cap was reached, by cap
// (rendezvous_connections_refused_total{reason}). Owned by the Server.
struct RefusedConnections {
  common::Counter* total_cap = nullptr;       // -maxConnections
  common::Counter* per_client_cap = nullptr;  // -maxConnectionsPerIP
};

class Worker {
 public:
  Worker(const ServerOptions& options, http::RequestHandler& handler, const common::Clock& clock,
         ConnectionLimiter& connections, const RefusedConnections& refused,
         WorkerTls tls = {});
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
  // The same for the TLS listening socket (needs WorkerTls::contexts).
  [[nodiscard]] boost::system::error_code ListenTls(const boost::asio::ip::tcp::endpoint& endpoint,
                                                    bool dual_stack, PortClaim claim,
                                                    const char** failed_step);
  uint16_t tls_local_port() const;

  // Serves until shutdown has finished (or Stop()).
  void Run();
  // Stops accepting; idle connections close, busy ones after their current response.
  void BeginShutdown();
  // Ends Run() at once (after the grace period of a shutdown).
  void Stop();

  // For sessions.
  const ServerOptions& options() const { return options_; }
  http::RequestHandler& handler() { return handler_; }
  // A TLS handshake failed: at most one log line a minute for all of them (garbage and scanners
  // are common on a public TLS port).
  void OnTlsHandshakeFailed(const common::IpAddress& peer, const boost::system::error_code& ec);
  const std::string& date() const { return date_; }
  const common::Clock& clock() const { return clock_; }
  int64_t now_ms() const { return now_ms_; }
  boost::asio::io_context& io_context() { return io_context_; }
  Poller& poller() { return poller_; }
  ConnectionLimiter& connections() { return connections_; }
  // Deletes a closed session (after the poller's current batch, if one is being dispatched).
  void Remove(SessionBase* session);

 private:
  // A listening socket on the poller.
  struct Listener final : PollTarget {
    Listener(Worker& worker, bool tls) : worker(worker), tls(tls) {}
    void OnPollEvents(uint32_t) override { worker.AcceptReady(*this); }
    Worker& worker;
    const bool tls;
    int fd = -1;
    boost::asio::steady_timer* retry = nullptr;
  };
  boost::system::error_code ListenOn(Listener& listener,
                                     const boost::asio::ip::tcp::endpoint& endpoint,
                                     bool dual_stack, PortClaim claim, const char** failed_step);
  // Accepts what the listening socket holds (a bounded batch per turn).
  void AcceptReady(Listener& listener);
  // A connection accepted on `listener`: the caps, then a session.
  void OnAccepted(const Listener& listener, int fd, const boost::asio::ip::tcp::endpoint& remote);
  void CloseListeners();
  void FreeRemoved();
  void MaybeFinishShutdown();
  void DoTick();
  void OnTick();
  void RefreshTime();

  const ServerOptions& options_;
  http::RequestHandler& handler_;
  const common::Clock& clock_;
  ConnectionLimiter& connections_;
  const RefusedConnections refused_;
  boost::asio::io_context io_context_{1};
  Poller poller_{io_context_, [this] { FreeRemoved(); }};
  const WorkerTls tls_;
  boost::asio::steady_timer tick_{io_context_};
  boost::asio::steady_timer accept_retry_{io_context_};
  boost::asio::steady_timer tls_accept_retry_{io_context_};
  Listener listener_{*this, false};
  Listener tls_listener_{*this, true};
  SessionBase* sessions_ = nullptr;  // intrusive list head
  std::vector<SessionBase*> removed_;  // closed during a poller batch, deleted after it
  size_t session_count_ = 0;
  bool shutting_down_ = false;
  common::LogThrottle accept_error_log_{absl::Minutes(1)};
  common::LogThrottle refused_log_{absl::Minutes(1)};
  std::string date_;
  int64_t now_ms_ = 0;
};

}  // namespace rendezvous::net

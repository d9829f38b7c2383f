#include "net/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <chrono>
#include <utility>

#include "common/http_date.h"
#include "common/log.h"
#include "net/session.h"

namespace rendezvous::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

common::IpAddress ToIpAddress(const asio::ip::address& address) {
  if (address.is_v4()) return common::IpAddress::FromV4(address.to_v4().to_uint());
  return common::IpAddress::FromV6(address.to_v6().to_bytes());
}

}  // namespace

Worker::Worker(const ServerOptions& options, http::RequestHandler& handler,
               const common::Clock& clock, ConnectionLimiter& connections,
               const RefusedConnections& refused, WorkerTls tls)
    : options_(options),
      handler_(handler),
      clock_(clock),
      connections_(connections),
      refused_(refused),
      tls_(tls) {
  RefreshTime();
}

Worker::~Worker() {
  // Sessions still here were cut off by Stop(); their sockets close with them.
  FreeRemoved();
  while (sessions_ != nullptr) {
    SessionBase* next = sessions_->next;
    delete sessions_;
    sessions_ = next;
  }
  CloseListeners();
}

namespace {

// Binds and listens `acceptor` (see Worker::Listen).
boost::system::error_code ListenAcceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                                         bool dual_stack, Worker::PortClaim claim,
                                         const char** failed_step) {
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    *failed_step = step;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return ec;
  };
  auto set_reuse_port = [&] {
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket for");
  if (endpoint.protocol() == tcp::v6()) {
    acceptor.set_option(asio::ip::v6_only(!dual_stack), ec);
    if (ec) return fail("cannot set IPV6_V6ONLY on");
  }
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // One listening socket per worker on the same port; the kernel balances connections. The
  // first socket binds without SO_REUSEPORT, so that the bind fails if anyone already serves the
  // port, and enables it afterwards: the kernel checks SO_REUSEPORT on the sockets already bound
  // when a new one binds, and groups the sockets at listen(), so the other workers still join.
  if (claim == Worker::PortClaim::kJoin) {
    set_reuse_port();
    if (ec) return fail("cannot set SO_REUSEPORT on");
  }
  acceptor.bind(endpoint, ec);
  if (ec) return fail("cannot listen on");
  if (claim == Worker::PortClaim::kExclusive) {
    set_reuse_port();
    if (ec) return fail("cannot set SO_REUSEPORT on");
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  // Wake the accept only when the first request bytes have arrived: saves a wake-up and a
  // read that would find nothing, for every new connection.
  int defer_seconds = 1;
  ::setsockopt(acceptor.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds,
               sizeof defer_seconds);
  return {};
}

uint16_t LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

}  // namespace

boost::system::error_code Worker::ListenOn(Listener& listener, const tcp::endpoint& endpoint,
                                           bool dual_stack, PortClaim claim,
                                           const char** failed_step) {
  // Asio sets the socket up; the poller waits on it from then on.
  tcp::acceptor acceptor(io_context_);
  boost::system::error_code ec =
      ListenAcceptor(acceptor, endpoint, dual_stack, claim, failed_step);
  if (ec) return ec;
  // Non-blocking: accept4 runs until EAGAIN.
  acceptor.non_blocking(true, ec);
  if (!ec) listener.fd = acceptor.release(ec);
  if (!ec) ec = poller_.Add(listener.fd, &listener);
  if (ec) {
    *failed_step = "cannot listen on";
    if (listener.fd >= 0) ::close(listener.fd);
    listener.fd = -1;
  }
  return ec;
}

boost::system::error_code Worker::Listen(const tcp::endpoint& endpoint, bool dual_stack,
                                         PortClaim claim, const char** failed_step) {
  listener_.retry = &accept_retry_;
  return ListenOn(listener_, endpoint, dual_stack, claim, failed_step);
}

boost::system::error_code Worker::ListenTls(const tcp::endpoint& endpoint, bool dual_stack,
                                            PortClaim claim, const char** failed_step) {
  tls_listener_.retry = &tls_accept_retry_;
  return ListenOn(tls_listener_, endpoint, dual_stack, claim, failed_step);
}

uint16_t Worker::tls_local_port() const { return LocalPort(tls_listener_.fd); }

uint16_t Worker::local_port() const { return LocalPort(listener_.fd); }

void Worker::Run() {
  if (boost::system::error_code ec = poller_.Start()) {
    common::LogError("cannot wait for connections: " + ec.message());
    return;
  }
  // Connections may already wait in the backlog (the edge came before the poller ran).
  if (listener_.fd >= 0) AcceptReady(listener_);
  if (tls_listener_.fd >= 0) AcceptReady(tls_listener_);
  DoTick();
  io_context_.run();
}

void Worker::CloseListeners() {
  for (Listener* listener : {&listener_, &tls_listener_}) {
    if (listener->fd >= 0) ::close(listener->fd);
    listener->fd = -1;
  }
}

void Worker::BeginShutdown() {
  asio::post(io_context_, [this] {
    shutting_down_ = true;
    CloseListeners();
    accept_retry_.cancel();
    tls_accept_retry_.cancel();
    for (SessionBase* s = sessions_; s != nullptr;) {
      SessionBase* next = s->next;  // OnShutdown may delete s
      s->OnShutdown();
      s = next;
    }
    MaybeFinishShutdown();
  });
}

void Worker::MaybeFinishShutdown() {
  if (!shutting_down_ || session_count_ != 0) return;
  // Nothing is left to wait for: let run() return.
  tick_.cancel();
  poller_.Stop();
}

void Worker::Stop() { io_context_.stop(); }

void Worker::AcceptReady(Listener& listener) {
  // Bounded, so that a flood of connections cannot hold the thread; the rest is taken on the
  // next turn of the loop (the edge that announced them will not come again).
  constexpr int kAcceptBatch = 64;
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (shutting_down_ || listener.fd < 0) return;
    tcp::endpoint remote;
    socklen_t length = static_cast<socklen_t>(remote.capacity());
    const int fd = ::accept4(listener.fd, remote.data(), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      remote.resize(length);
      OnAccepted(listener, fd, remote);
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
    // Out of file descriptors or memory: back off briefly instead of spinning on accept.
    if (accept_error_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("accept failed: " +
                         boost::system::error_code(error, boost::system::system_category())
                             .message());
    }
    listener.retry->expires_after(std::chrono::milliseconds(100));
    listener.retry->async_wait([this, &listener](boost::system::error_code wait_ec) {
      if (!wait_ec) AcceptReady(listener);
    });
    return;
  }
  asio::post(io_context_, [this, &listener] { AcceptReady(listener); });
}

void Worker::OnAccepted(const Listener& listener, int fd, const tcp::endpoint& remote) {
  // Without TCP_NODELAY, a pipelining client stalls on Nagle + delayed ACK.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const common::IpAddress peer = ToIpAddress(remote.address());
  const bool exempt = options_.proxies.IsTrusted(peer);
  if (!connections_.TryAcquire(peer, exempt)) {
    // Which cap: the total is full, or else it was this client's. Other workers may accept or
    // close connections meanwhile, so at the edge a refusal can land under the other reason.
    // Counted before the close, so a client that sees the close sees the count.
    const bool total_full = connections_.open_connections() >= options_.max_connections;
    (total_full ? refused_.total_cap : refused_.per_client_cap)->Increment();
    // Over a connection cap: close before reading a byte, so the cost stays at an accept.
    ::close(fd);
    if (refused_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("connection cap reached (" +
                         std::to_string(connections_.open_connections()) +
                         " open); refusing new connections from " + peer.ToString());
    }
    return;
  }
  SessionBase* session;
  if (listener.tls) {
    // The context of the moment: a reload swaps it for new handshakes only.
    session = new TlsSession(*this, handler_, fd, peer, exempt, tls_.contexts->Current());
  } else {
    http::RequestHandler& handler = tls_.plain_handler != nullptr ? *tls_.plain_handler : handler_;
    session = new PlainSession(*this, handler, fd, peer, exempt);
  }
  session->next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = session;
  sessions_ = session;
  ++session_count_;
  session->Start();
}

void Worker::OnTlsHandshakeFailed(const common::IpAddress& peer,
                                  const boost::system::error_code& ec) {
  if (tls_.handshake_log == nullptr || !tls_.handshake_log->ShouldLog(clock_.Now())) return;
  std::string line = "TLS handshake failed with " + peer.ToString() + ": " + ec.message();
  if (int64_t more = tls_.handshake_log->TakeSuppressedCount(); more > 0) {
    line += " (and " + std::to_string(more) + " more since the last such line)";
  }
  common::LogInfo(line);
}

void Worker::Remove(SessionBase* session) {
  if (session->prev != nullptr) session->prev->next = session->next;
  if (session->next != nullptr) session->next->prev = session->prev;
  if (sessions_ == session) sessions_ = session->next;
  --session_count_;
  if (poller_.Dispatching()) {
    removed_.push_back(session);  // an event of this batch may still name it
  } else {
    delete session;
  }
  MaybeFinishShutdown();
}

void Worker::FreeRemoved() {
  for (SessionBase* session : removed_) delete session;
  removed_.clear();
}

void Worker::RefreshTime() {
  now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now().time_since_epoch())
                .count();
  date_ = common::FormatHttpDate(clock_.Now());
}

void Worker::DoTick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    OnTick();
  });
}

void Worker::OnTick() {
  RefreshTime();
  for (SessionBase* s = sessions_; s != nullptr;) {
    SessionBase* next = s->next;  // OnTick may delete s
    s->OnTick(now_ms_);
    s = next;
  }
  if (shutting_down_ && session_count_ == 0) return;  // let run() return
  DoTick();
}

}  // namespace rendezvous::net

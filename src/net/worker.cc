#include "net/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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
  while (sessions_ != nullptr) {
    SessionBase* next = sessions_->next;
    delete sessions_;
    sessions_ = next;
  }
}

namespace {

// Binds and listens `acceptor` (see Worker::Listen).
boost::system::error_code ListenOn(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
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

}  // namespace

boost::system::error_code Worker::Listen(const tcp::endpoint& endpoint, bool dual_stack,
                                         PortClaim claim, const char** failed_step) {
  return ListenOn(acceptor_, endpoint, dual_stack, claim, failed_step);
}

boost::system::error_code Worker::ListenTls(const tcp::endpoint& endpoint, bool dual_stack,
                                            PortClaim claim, const char** failed_step) {
  return ListenOn(tls_acceptor_, endpoint, dual_stack, claim, failed_step);
}

uint16_t Worker::tls_local_port() const {
  boost::system::error_code ec;
  return tls_acceptor_.local_endpoint(ec).port();
}

uint16_t Worker::local_port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Worker::Run() {
  DoAccept(acceptor_);
  if (tls_acceptor_.is_open()) DoAccept(tls_acceptor_);
  DoTick();
  io_context_.run();
}

void Worker::BeginShutdown() {
  asio::post(io_context_, [this] {
    shutting_down_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    tls_acceptor_.close(ignored);
    accept_retry_.cancel();
    tls_accept_retry_.cancel();
    for (SessionBase* s = sessions_; s != nullptr;) {
      SessionBase* next = s->next;  // OnShutdown may delete s
      s->OnShutdown();
      s = next;
    }
    if (session_count_ == 0) tick_.cancel();
  });
}

void Worker::Stop() { io_context_.stop(); }

void Worker::DoAccept(tcp::acceptor& acceptor) {
  if (shutting_down_) return;
  acceptor.async_accept(io_context_,
                        [this, &acceptor](boost::system::error_code ec, tcp::socket socket) {
                          OnAccept(acceptor, ec, std::move(socket));
                        });
}

void Worker::OnAccept(tcp::acceptor& acceptor, boost::system::error_code ec, tcp::socket socket) {
  const bool tls = &acceptor == &tls_acceptor_;
  if (shutting_down_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors or memory: back off briefly instead of spinning on accept.
    if (accept_error_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("accept failed: " + ec.message());
    }
    asio::steady_timer& retry = tls ? tls_accept_retry_ : accept_retry_;
    retry.expires_after(std::chrono::milliseconds(100));
    retry.async_wait([this, &acceptor](boost::system::error_code wait_ec) {
      if (!wait_ec) DoAccept(acceptor);
    });
    return;
  }
  boost::system::error_code option_ec;
  // Without TCP_NODELAY, a pipelining client stalls on Nagle + delayed ACK.
  socket.set_option(tcp::no_delay(true), option_ec);
  const tcp::endpoint remote = socket.remote_endpoint(option_ec);
  const common::IpAddress peer = ToIpAddress(remote.address());
  const bool exempt = options_.proxies.IsTrusted(peer);
  if (option_ec) {
    // The peer is already gone; nothing to serve.
  } else if (!connections_.TryAcquire(peer, exempt)) {
    // Which cap: the total is full, or else it was this client's. Other workers may accept or
    // close connections meanwhile, so at the edge a refusal can land under the other reason.
    // Counted before the close, so a client that sees the close sees the count.
    const bool total_full = connections_.open_connections() >= options_.max_connections;
    (total_full ? refused_.total_cap : refused_.per_client_cap)->Increment();
    // Over a connection cap: close before reading a byte, so the cost stays at an accept.
    socket.close(option_ec);
    if (refused_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("connection cap reached (" +
                         std::to_string(connections_.open_connections()) +
                         " open); refusing new connections from " + peer.ToString());
    }
  } else {
    SessionBase* session;
    if (tls) {
      // The context of the moment: a reload swaps it for new handshakes only.
      std::shared_ptr<asio::ssl::context> context = tls_.contexts->Current();
      TlsSession::StreamType stream(std::move(socket), *context);
      session = new TlsSession(*this, handler_, std::move(stream), peer, exempt, std::move(context));
    } else {
      http::RequestHandler& handler =
          tls_.plain_handler != nullptr ? *tls_.plain_handler : handler_;
      session = new PlainSession(*this, handler, std::move(socket), peer, exempt);
    }
    session->next = sessions_;
    if (sessions_ != nullptr) sessions_->prev = session;
    sessions_ = session;
    ++session_count_;
    session->Start();
  }
  DoAccept(acceptor);
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
  delete session;
  if (shutting_down_ && session_count_ == 0) tick_.cancel();
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

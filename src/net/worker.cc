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
               const common::Clock& clock, ConnectionLimiter& connections)
    : options_(options), handler_(handler), clock_(clock), connections_(connections) {
  RefreshTime();
}

Worker::~Worker() {
  // Sessions still here were cut off by Stop(); their sockets close with them.
  while (sessions_ != nullptr) {
    Session* next = sessions_->next;
    delete sessions_;
    sessions_ = next;
  }
}

boost::system::error_code Worker::Listen(const tcp::endpoint& endpoint, bool dual_stack,
                                         PortClaim claim, const char** failed_step) {
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    *failed_step = step;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return ec;
  };
  auto set_reuse_port = [&] {
    int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket for");
  if (endpoint.protocol() == tcp::v6()) {
    acceptor_.set_option(asio::ip::v6_only(!dual_stack), ec);
    if (ec) return fail("cannot set IPV6_V6ONLY on");
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  // One listening socket per worker on the same port; the kernel balances connections. The
  // first socket binds without SO_REUSEPORT, so that the bind fails if anyone already serves the
  // port, and enables it afterwards: the kernel checks SO_REUSEPORT on the sockets already bound
  // when a new one binds, and groups the sockets at listen(), so the other workers still join.
  if (claim == PortClaim::kJoin) {
    set_reuse_port();
    if (ec) return fail("cannot set SO_REUSEPORT on");
  }
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("cannot listen on");
  if (claim == PortClaim::kExclusive) {
    set_reuse_port();
    if (ec) return fail("cannot set SO_REUSEPORT on");
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  // Wake the accept only when the first request bytes have arrived: saves a wake-up and a
  // read that would find nothing, for every new connection.
  int defer_seconds = 1;
  ::setsockopt(acceptor_.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds,
               sizeof defer_seconds);
  return {};
}

uint16_t Worker::local_port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Worker::Run() {
  DoAccept();
  DoTick();
  io_context_.run();
}

void Worker::BeginShutdown() {
  asio::post(io_context_, [this] {
    shutting_down_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    for (Session* s = sessions_; s != nullptr;) {
      Session* next = s->next;  // OnShutdown may delete s
      s->OnShutdown();
      s = next;
    }
    if (session_count_ == 0) tick_.cancel();
  });
}

void Worker::Stop() { io_context_.stop(); }

void Worker::DoAccept() {
  if (shutting_down_) return;
  acceptor_.async_accept(io_context_, [this](boost::system::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Worker::OnAccept(boost::system::error_code ec, tcp::socket socket) {
  if (shutting_down_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors or memory: back off briefly instead of spinning on accept.
    if (accept_error_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("accept failed: " + ec.message());
    }
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec) DoAccept();
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
    // Over a connection cap: close before reading a byte, so the cost stays at an accept.
    socket.close(option_ec);
    if (refused_log_.ShouldLog(clock_.Now())) {
      common::LogWarning("connection cap reached (" +
                         std::to_string(connections_.open_connections()) +
                         " open); refusing new connections from " + peer.ToString());
    }
  } else {
    auto* session = new Session(*this, std::move(socket), peer, exempt);
    session->next = sessions_;
    if (sessions_ != nullptr) sessions_->prev = session;
    sessions_ = session;
    ++session_count_;
    session->Start();
  }
  DoAccept();
}

void Worker::Remove(Session* session) {
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
  for (Session* s = sessions_; s != nullptr;) {
    Session* next = s->next;  // OnTick may delete s
    s->OnTick(now_ms_);
    s = next;
  }
  if (shutting_down_ && session_count_ == 0) return;  // let run() return
  DoTick();
}

}  // namespace rendezvous::net

#include "net/plain_session.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <boost/asio/post.hpp>

#include "net/worker.h"

namespace rendezvous::net {

PlainSession::PlainSession(Worker& worker, http::RequestHandler& handler, int fd,
                           const common::IpAddress& peer, bool exempt)
    : worker_(worker),
      peer_(peer),
      exempt_from_client_cap_(exempt),
      fd_(fd),
      connection_(worker.options(), handler, static_cast<ConnectionHost&>(*this), peer,
                  worker.now_ms()) {}

PlainSession::~PlainSession() {
  if (fd_ >= 0) ::close(fd_);
  worker_.connections().Release(peer_, exempt_from_client_cap_);
}

void PlainSession::Start() {
  if (worker_.poller().Add(fd_, this)) {
    connection_.Abort();
    closed_ = true;
    ::close(fd_);
    fd_ = -1;
    return MaybeDestroy();
  }
  // The listening socket defers the accept until the first bytes have arrived, so read at once.
  Pump();
}

int64_t PlainSession::MonotonicNanos() { return worker_.clock().MonotonicNanos(); }

std::string_view PlainSession::CurrentDate() { return worker_.date(); }

void PlainSession::PostCompletion() {
  boost::asio::post(worker_.io_context(), [this] {
    connection_.OnHandlerDone(worker_.now_ms());
    if (closed_) return MaybeDestroy();
    Pump();
  });
}

void PlainSession::OnPollEvents(uint32_t events) {
  if (closed_) return;
  // An error or hang-up shows up as a failed or empty read or write; let them report it.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
  Pump();
}

void PlainSession::Pump() {
  for (;;) {
    if (connection_.state() == Connection::State::kClosed) return Close();
    bool progress = TryWrite();
    if (closed_) return;
    if (connection_.WantsShutdownSend()) {
      ::shutdown(fd_, SHUT_WR);
      connection_.OnShutdownSend();
    }
    progress |= TryRead();
    if (!progress) return;
  }
}

bool PlainSession::TryWrite() {
  if (!writing_) {
    if (!connection_.HasOutput()) return false;
    out_ = connection_.StartWrite(worker_.now_ms());
    written_ = 0;
    writing_ = true;
  }
  if (!writable_) return false;
  while (written_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + written_, out_.size() - written_, MSG_NOSIGNAL);
    if (n >= 0) {
      written_ += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
      return written_ > 0;
    } else if (errno != EINTR) {
      Close();  // reset or broken pipe: the client is gone
      return true;
    }
  }
  writing_ = false;
  connection_.OnWriteDone(worker_.now_ms());
  return true;
}

bool PlainSession::TryRead() {
  if (!readable_ || !connection_.WantsRead()) return false;
  const boost::asio::mutable_buffer buffer = connection_.ReadBuffer();
  ssize_t n;
  do {
    n = ::recv(fd_, buffer.data(), buffer.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    // A read that did not fill the buffer took everything the socket had.
    if (static_cast<size_t>(n) < buffer.size()) readable_ = false;
    connection_.OnRead(static_cast<size_t>(n), worker_.now_ms());
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    readable_ = false;
    return false;
  }
  readable_ = false;  // EOF or an error: nothing more will come
  connection_.OnPeerClosed();
  return true;
}

void PlainSession::OnTick(int64_t now_ms) {
  if (closed_) return;
  connection_.OnTick(now_ms);
  Pump();
}

void PlainSession::OnShutdown() {
  if (closed_) return;
  connection_.OnShutdown();
  Pump();
}

void PlainSession::Close() {
  if (closed_) return;
  closed_ = true;
  connection_.Abort();  // gives up a request waiting in the store
  ::close(fd_);         // also ends its poller registration
  fd_ = -1;
  MaybeDestroy();
}

void PlainSession::MaybeDestroy() {
  if (closed_ && connection_.CanDestroy()) worker_.Remove(this);
}

}  // namespace rendezvous::net

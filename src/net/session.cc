#include "net/session.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "net/worker.h"

namespace rendezvous::net {

template <class Transport>
Session<Transport>::~Session() {
  if (!closed_) ::close(transport_.fd());
  worker_.connections().Release(peer_, exempt_from_client_cap_);
}

template <class Transport>
void Session<Transport>::Start() {
  if (worker_.poller().Add(transport_.fd(), this)) return Close();
  if constexpr (Transport::kTls) {
    handshake_deadline_ms_ =
        worker_.now_ms() + absl::ToInt64Milliseconds(worker_.options().tls_handshake_timeout);
  }
  // The listening socket defers the accept until the first bytes have arrived, so read at once.
  Pump();
}

template <class Transport>
int64_t Session<Transport>::MonotonicNanos() {
  return worker_.clock().MonotonicNanos();
}

template <class Transport>
std::string_view Session<Transport>::CurrentDate() {
  return worker_.date();
}

template <class Transport>
void Session<Transport>::PostCompletion() {
  boost::asio::post(worker_.io_context(), [this] {
    connection_->OnHandlerDone(worker_.now_ms());
    if (closed_) return MaybeDestroy();
    Pump();
  });
}

template <class Transport>
void Session<Transport>::OnPollEvents(uint32_t events) {
  if (closed_) return;
  // An error or hang-up shows up as a failed or empty read or write; let them report it.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
  Pump();
}

template <class Transport>
void Session<Transport>::Pump() {
  if (!connection_ && !TryHandshake()) return WatchWritableIfFull();
  for (;;) {
    if (connection_->state() == Connection::State::kClosed) return Close();
    bool progress = TryWrite();
    if (closed_) return;
    if (connection_->WantsShutdownSend()) {
      // Plain TCP: a client that said it sends nothing more is closed at once, without the
      // half-close and the linger (two syscalls and a wake-up fewer per such connection). TLS
      // keeps its close_notify, which clients may expect before the end of the stream.
      if constexpr (!Transport::kTls) {
        if (connection_->ClientSendsNoMore()) return Close();
      }
      transport_.ShutdownSend(writable_);
      connection_->OnShutdownSend();
    }
    progress |= TryRead();
    if (!progress) return WatchWritableIfFull();
  }
}

template <class Transport>
void Session<Transport>::WatchWritableIfFull() {
  if (closed_ || writable_ || watching_writable_) return;
  watching_writable_ = true;
  if (worker_.poller().WatchWritable(transport_.fd(), this)) Close();
}

template <class Transport>
bool Session<Transport>::TryHandshake() {
  const IoResult result = transport_.Handshake(readable_, writable_);
  if (result.status == IoResult::kWouldBlock) return false;
  if (result.status != IoResult::kDone) {
    if constexpr (Transport::kTls) worker_.OnTlsHandshakeFailed(peer_, transport_.error());
    Close();
    return false;
  }
  // The header deadline of a new connection starts now, after the handshake.
  connection_.emplace(worker_.options(), handler_, static_cast<ConnectionHost&>(*this), peer_,
                      worker_.now_ms());
  return true;
}

template <class Transport>
bool Session<Transport>::TryWrite() {
  if (!writing_) {
    if (!connection_->HasOutput()) {
      // What the transport still holds (TLS records) goes out as the socket takes it.
      if (transport_.Flush(writable_).status == IoResult::kError) Close();
      return false;
    }
    out_ = connection_->StartWrite(worker_.now_ms());
    written_ = 0;
    writing_ = true;
  }
  bool progress = false;
  while (written_ < out_.size()) {
    const IoResult result =
        transport_.Write(out_.data() + written_, out_.size() - written_, writable_);
    if (result.status == IoResult::kWouldBlock) return progress;
    if (result.status != IoResult::kDone) {
      Close();  // reset or broken pipe: the client is gone
      return true;
    }
    written_ += result.bytes;
    progress = true;
  }
  writing_ = false;
  connection_->OnWriteDone(worker_.now_ms());
  return true;
}

template <class Transport>
bool Session<Transport>::TryRead() {
  if (!connection_->WantsRead()) return false;
  const boost::asio::mutable_buffer buffer = connection_->ReadBuffer();
  const IoResult result =
      transport_.Read(static_cast<char*>(buffer.data()), buffer.size(), readable_);
  switch (result.status) {
    case IoResult::kDone:
      connection_->OnRead(result.bytes, worker_.now_ms());
      return true;
    case IoResult::kWouldBlock:
      return false;
    case IoResult::kEof:
    case IoResult::kError:
      // EOF, reset, or (TLS) a bad record or a close_notify; a request being handled is still
      // answered.
      connection_->OnPeerClosed();
      return true;
  }
  return false;
}

template <class Transport>
void Session<Transport>::OnTick(int64_t now_ms) {
  if (closed_) return;
  if (!connection_) {  // TLS handshake in progress
    if (now_ms >= handshake_deadline_ms_) Close();
    return;
  }
  connection_->OnTick(now_ms);
  Pump();
}

template <class Transport>
void Session<Transport>::OnShutdown() {
  if (closed_) return;
  if (!connection_) return Close();
  connection_->OnShutdown();
  Pump();
}

template <class Transport>
void Session<Transport>::Close() {
  if (closed_) return;
  closed_ = true;
  if (connection_) connection_->Abort();  // gives up a request waiting in the store
  ::close(transport_.fd());               // also ends its poller registration
  MaybeDestroy();
}

template <class Transport>
void Session<Transport>::MaybeDestroy() {
  if (closed_ && (!connection_ || connection_->CanDestroy())) worker_.Remove(this);
}

template class Session<PlainTransport>;
template class Session<TlsTransport>;

}  // namespace rendezvous::net

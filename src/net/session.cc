#include "net/session.h"

#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "net/worker.h"

namespace rendezvous::net {

template <class Stream>
Session<Stream>::Session(Worker& worker, http::RequestHandler& handler, Stream stream,
                         const common::IpAddress& peer, bool exempt,
                         std::shared_ptr<boost::asio::ssl::context> tls_context)
    : worker_(worker),
      handler_(handler),
      tls_context_(std::move(tls_context)),
      stream_(std::move(stream)),
      peer_(peer),
      exempt_from_client_cap_(exempt) {
  if constexpr (!kTls) {
    connection_.emplace(worker.options(), handler_, static_cast<ConnectionHost&>(*this), peer,
                        worker.now_ms());
  }
}

template <class Stream>
Session<Stream>::~Session() {
  worker_.connections().Release(peer_, exempt_from_client_cap_);
}

template <class Stream>
void Session<Stream>::Start() {
  if constexpr (kTls) {
    handshake_deadline_ms_ =
        worker_.now_ms() + absl::ToInt64Milliseconds(worker_.options().tls_handshake_timeout);
    handshaking_ = true;
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            [this](boost::system::error_code ec) { OnHandshake(ec); });
  } else {
    Pump();
  }
}

template <class Stream>
void Session<Stream>::OnHandshake(boost::system::error_code ec) {
  handshaking_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) {
    worker_.OnTlsHandshakeFailed(peer_, ec);
    return Close();
  }
  // The header deadline of a new connection starts now, after the handshake.
  connection_.emplace(worker_.options(), handler_, static_cast<ConnectionHost&>(*this), peer_,
                      worker_.now_ms());
  Pump();
}

template <class Stream>
int64_t Session<Stream>::MonotonicNanos() {
  return worker_.clock().MonotonicNanos();
}

template <class Stream>
std::string_view Session<Stream>::CurrentDate() {
  return worker_.date();
}

template <class Stream>
void Session<Stream>::PostCompletion() {
  boost::asio::post(worker_.io_context(), [this] {
    connection_->OnHandlerDone(worker_.now_ms());
    if (closed_) return MaybeDestroy();
    Pump();
  });
}

template <class Stream>
void Session<Stream>::Pump() {
  if (closed_) return MaybeDestroy();
  Connection& connection = *connection_;
  if (connection.state() == Connection::State::kClosed) return Close();
  if (!writing_ && connection.HasOutput()) {
    const std::string_view bytes = connection.StartWrite(worker_.now_ms());
    writing_ = true;
    boost::asio::async_write(stream_, boost::asio::buffer(bytes.data(), bytes.size()),
                             [this](boost::system::error_code ec, size_t) { OnWrite(ec); });
  }
  if (connection.WantsShutdownSend()) {
    if constexpr (kTls) {
      // close_notify, then wait for the client's (it ends the stream cleanly: no reset under the
      // answer). A read still in flight finishes first (one operation on the TLS engine at a
      // time); the linger deadline bounds both.
      if (!reading_) {
        connection.OnShutdownSend();
        reading_ = true;
        stream_.async_shutdown([this](boost::system::error_code) {
          reading_ = false;
          if (closed_) return MaybeDestroy();
          connection_->OnPeerClosed();
          Pump();
        });
      }
    } else {
      boost::system::error_code ignored;
      stream_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      connection.OnShutdownSend();
    }
  }
  if (!reading_ && connection.WantsRead()) {
    // async_read_some tries recv at once (Asio's speculative read), which fails with EAGAIN when
    // the client has not sent its next request yet. Waiting for readiness first (async_wait) was
    // measured to cost an epoll_ctl on every request instead, which is worse: Asio 1.74 re-arms
    // the descriptor for every non-speculative operation (docs/performance.md). Over TLS the
    // stream's engine decrypts what the socket read gives into the connection's buffer.
    reading_ = true;
    stream_.async_read_some(connection.ReadBuffer(),
                            [this](boost::system::error_code ec, size_t bytes) {
                              OnRead(ec, bytes);
                            });
  }
}

template <class Stream>
void Session<Stream>::OnRead(boost::system::error_code ec, size_t bytes) {
  reading_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) {
    connection_->OnPeerClosed();  // EOF, reset, or (TLS) a bad record or a close_notify
  } else {
    connection_->OnRead(bytes, worker_.now_ms());
  }
  Pump();
}

template <class Stream>
void Session<Stream>::OnWrite(boost::system::error_code ec) {
  writing_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) return Close();
  connection_->OnWriteDone(worker_.now_ms());
  Pump();
}

template <class Stream>
void Session<Stream>::OnTick(int64_t now_ms) {
  if (closed_) return;
  if (!connection_) {  // TLS handshake in progress
    if (now_ms >= handshake_deadline_ms_) Close();
    return;
  }
  connection_->OnTick(now_ms);
  Pump();
}

template <class Stream>
void Session<Stream>::OnShutdown() {
  if (closed_) return;
  if (!connection_) return Close();
  connection_->OnShutdown();
  Pump();
}

template <class Stream>
void Session<Stream>::Close() {
  if (closed_) return;
  closed_ = true;
  if (connection_) connection_->Abort();  // gives up a request waiting in the store
  boost::system::error_code ignored;
  socket().close(ignored);  // completes pending operations with operation_aborted
  MaybeDestroy();
}

template <class Stream>
void Session<Stream>::MaybeDestroy() {
  if (closed_ && !handshaking_ && !reading_ && !writing_ &&
      (!connection_ || connection_->CanDestroy())) {
    worker_.Remove(this);
  }
}

template class Session<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace rendezvous::net

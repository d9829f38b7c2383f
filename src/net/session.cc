#include "net/session.h"

#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "net/worker.h"

namespace rendezvous::net {

Session::Session(Worker& worker, boost::asio::ip::tcp::socket socket,
                 const common::IpAddress& peer, bool exempt)
    : worker_(worker),
      socket_(std::move(socket)),
      peer_(peer),
      exempt_from_client_cap_(exempt),
      connection_(worker.options(), worker.handler(), *this, peer, worker.now_ms()) {}

Session::~Session() { worker_.connections().Release(peer_, exempt_from_client_cap_); }

void Session::Start() { Pump(); }

std::string_view Session::CurrentDate() { return worker_.date(); }

void Session::PostCompletion() {
  boost::asio::post(worker_.io_context(), [this] {
    connection_.OnHandlerDone(worker_.now_ms());
    if (closed_) return MaybeDestroy();
    Pump();
  });
}

void Session::Pump() {
  if (closed_) return MaybeDestroy();
  if (connection_.state() == Connection::State::kClosed) return Close();
  if (!writing_ && connection_.HasOutput()) {
    const std::string_view bytes = connection_.StartWrite(worker_.now_ms());
    writing_ = true;
    boost::asio::async_write(socket_, boost::asio::buffer(bytes.data(), bytes.size()),
                             [this](boost::system::error_code ec, size_t) { OnWrite(ec); });
  }
  if (connection_.WantsShutdownSend()) {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    connection_.OnShutdownSend();
  }
  if (!reading_ && connection_.WantsRead()) {
    // async_read_some tries recv at once (Asio's speculative read), which fails with EAGAIN when
    // the client has not sent its next request yet. Waiting for readiness first (async_wait) was
    // measured to cost an epoll_ctl on every request instead, which is worse: Asio 1.74 re-arms
    // the descriptor for every non-speculative operation (docs/performance.md).
    reading_ = true;
    socket_.async_read_some(connection_.ReadBuffer(),
                            [this](boost::system::error_code ec, size_t bytes) {
                              OnRead(ec, bytes);
                            });
  }
}

void Session::OnRead(boost::system::error_code ec, size_t bytes) {
  reading_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) {
    connection_.OnPeerClosed();  // EOF or reset
  } else {
    connection_.OnRead(bytes, worker_.now_ms());
  }
  Pump();
}

void Session::OnWrite(boost::system::error_code ec) {
  writing_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) return Close();
  connection_.OnWriteDone(worker_.now_ms());
  Pump();
}

void Session::OnTick(int64_t now_ms) {
  if (closed_) return;
  connection_.OnTick(now_ms);
  Pump();
}

void Session::OnShutdown() {
  if (closed_) return;
  connection_.OnShutdown();
  Pump();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  connection_.Abort();  // gives up a request waiting in the store
  boost::system::error_code ignored;
  socket_.close(ignored);  // completes pending operations with operation_aborted
  MaybeDestroy();
}

void Session::MaybeDestroy() {
  if (closed_ && !reading_ && !writing_ && connection_.CanDestroy()) worker_.Remove(this);
}

}  // namespace rendezvous::net

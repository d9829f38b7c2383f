#include "net/session.h"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "net/client_address.h"
#include "net/worker.h"

namespace rendezvous::net {
namespace {

namespace bhttp = boost::beast::http;

constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

Session::Session(Worker& worker, boost::asio::ip::tcp::socket socket,
                 const common::IpAddress& peer, bool exempt)
    : worker_(worker), socket_(std::move(socket)), peer_(peer), exempt_from_client_cap_(exempt) {}

Session::~Session() { worker_.connections().Release(peer_, exempt_from_client_cap_); }

void Session::Start() {
  // A new connection gets the header timeout to send its first request (not the longer idle
  // timeout): connections that never speak are a cheap way to hold server resources.
  deadline_ms_ = worker_.now_ms() + Millis(worker_.options().header_timeout);
  MaybeRead();
}

void Session::SetDeadline(absl::Duration timeout) {
  deadline_ms_ = worker_.now_ms() + Millis(timeout);
}

void Session::MaybeRead() {
  const ServerOptions& options = worker_.options();
  if (closed_) return;
  if (shutting_down_ && state_ == State::kIdle && !handler_pending_ && !writing_ && out_.empty()) {
    return Close();  // shutdown: the last response is out and no request has started
  }
  if (reading_ || handler_pending_) return;
  if (close_after_write_ && state_ != State::kLingering) return;
  if (out_.size() >= options.output_limit_bytes) return;  // resumes after the write
  const size_t room = ReadRoom();
  if (room == 0) return;
  // async_read_some tries recv at once (Asio's speculative read), which fails with EAGAIN when
  // the client has not sent its next request yet. Waiting for readiness first (async_wait) was
  // measured to cost an epoll_ctl on every request instead, which is worse: Asio 1.74 re-arms
  // the descriptor for every non-speculative operation (docs/performance.md).
  reading_ = true;
  socket_.async_read_some(in_.prepare(room), [this](boost::system::error_code ec, size_t bytes) {
    OnRead(ec, bytes);
  });
}

size_t Session::ReadRoom() const {
  const ServerOptions& options = worker_.options();
  // The parser consumes complete requests as they arrive, so the buffer only ever holds one
  // partial request (bounded by the header and body limits) plus what a pipelining client sent
  // ahead; the latter is bounded here.
  const size_t max_buffered =
      options.header_limit_bytes + options.body_limit_bytes + kReadChunkBytes;
  return in_.size() >= max_buffered ? 0 : std::min(kReadChunkBytes, max_buffered - in_.size());
}

void Session::OnRead(boost::system::error_code ec, size_t bytes) {
  reading_ = false;
  if (closed_) return MaybeDestroy();
  if (ec) {
    // EOF or reset. A request already being handled is still answered if the client only
    // half-closed; anything else ends here.
    if (handler_pending_ || writing_ || !out_.empty()) {
      close_after_write_ = true;
      if (state_ == State::kLingering) Close();
      return;
    }
    return Close();
  }
  in_.commit(bytes);
  if (state_ == State::kLingering) {
    in_.consume(in_.size());
    return MaybeRead();
  }
  if (state_ == State::kIdle && in_.size() > 0) {
    state_ = State::kReadingHeader;
    SetDeadline(worker_.options().header_timeout);
  }
  ProcessInput();
  MaybeWrite();
  MaybeRead();
}

// Parses and handles every complete request in the buffer, in order, until one is pending in the
// store, the output is full, or more bytes are needed.
void Session::ProcessInput() {
  const ServerOptions& options = worker_.options();
  while (!closed_ && !handler_pending_ && !close_after_write_ &&
         out_.size() < options.output_limit_bytes) {
    if (!parser_) {
      if (in_.size() == 0) return;
      parser_.emplace(fields_, options.header_limit_bytes, options.body_limit_bytes);
      header_handled_ = false;
      if (state_ == State::kIdle) {
        state_ = State::kReadingHeader;
        SetDeadline(options.header_timeout);
      }
    }
    boost::beast::error_code ec;
    if (!parser_->is_done()) {
      if (in_.size() == 0) return;  // wait for more bytes
      const size_t used = parser_->put(in_.data(), ec);
      in_.consume(used);
    }
    if (ec == bhttp::error::need_more) {
      if (parser_->is_header_done() && !header_handled_) OnHeaderDone(!parser_->is_done());
      return;  // wait for more bytes
    }
    if (ec == bhttp::error::body_limit) {
      // Content-Length (or the chunks so far) exceed the limit: the body is not read, the
      // handler still rate-limits and answers 413, and the connection closes after.
      // Beast raises it for a too-large Content-Length right after the last field, before it
      // marks the header done: the fields are all here.
      if (!header_handled_) {
        OnHeaderDone(/*body_follows=*/false);
        if (close_after_write_) return;
      }
      return Dispatch(/*body_too_large=*/true);
    }
    if (ec == bhttp::error::header_limit) return AnswerProtocolError(http::Error::kHeaderTooLarge);
    if (ec) return AnswerProtocolError(http::Error::kBadRequest);

    if (parser_->is_header_done() && !header_handled_) {
      OnHeaderDone(!parser_->is_done());
      if (close_after_write_) return;
    }
    if (parser_->is_done()) Dispatch(/*body_too_large=*/false);
  }
}

void Session::OnHeaderDone(bool body_follows) {
  header_handled_ = true;
  if (fields_.transfer_encoding_not_chunked || fields_.host_count > 1) {
    return AnswerProtocolError(http::Error::kBadRequest);
  }
  if (fields_.transfer_encoding_unsupported) {
    return AnswerProtocolError(http::Error::kNotImplemented);
  }
  if (fields_.version >= 11 && fields_.host_count == 0) {
    return AnswerProtocolError(http::Error::kMissingHost);
  }
  if (body_follows) {
    state_ = State::kReadingBody;
    SetDeadline(worker_.options().body_timeout);
    // Earlier responses are already queued in order, so the interim answer lands right.
    if (fields_.expect_continue && fields_.version >= 11) out_.append(kContinue);
  }
}

void Session::Dispatch(bool body_too_large) {
  fields_.FillRequest(request_);
  request_.body_too_large = body_too_large;
  request_.keep_alive = parser_->keep_alive() && !shutting_down_ && !body_too_large;
  const std::string_view forwarded = fields_.forwarded_for;
  const ClientResolution client =
      ResolveClient(peer_, absl::MakeConstSpan(&forwarded, forwarded.empty() ? 0 : 1),
                    worker_.options().proxies);
  request_.client = client.client;
  request_.client_is_loopback_direct = !client.forwarded && peer_.IsLoopback();

  response_.Reset();
  state_ = State::kHandling;
  handler_pending_ = true;
  completion_.store(Completion::kRunning, std::memory_order_relaxed);
  worker_.handler().Handle(request_, response_, [this] { OnHandlerDone(); });
  Completion expected = Completion::kRunning;
  if (completion_.compare_exchange_strong(expected, Completion::kPending,
                                          std::memory_order_acq_rel)) {
    return;  // the store completes later; OnHandlerDone posts back to this thread
  }
  FinishResponse();
}

void Session::OnHandlerDone() {
  Completion expected = Completion::kRunning;
  if (completion_.compare_exchange_strong(expected, Completion::kDoneInline,
                                          std::memory_order_acq_rel)) {
    return;  // inline: Dispatch() continues on this thread
  }
  boost::asio::post(worker_.io_context(), [this] {
    FinishResponse();
    ProcessInput();
    MaybeWrite();
    MaybeRead();
  });
}

void Session::FinishResponse() {
  handler_pending_ = false;
  if (closed_) return MaybeDestroy();
  const bool keep_alive = request_.keep_alive && !response_.close && !shutting_down_;
  http::AppendResponse(response_, worker_.date(), keep_alive, request_.version, out_);
  parser_.reset();
  served_any_ = true;
  if (!keep_alive) {
    close_after_write_ = true;
    return;
  }
  state_ = State::kIdle;
  SetDeadline(worker_.options().idle_timeout);
  if (in_.size() > 0) {  // a pipelined request is already waiting
    state_ = State::kReadingHeader;
    SetDeadline(worker_.options().header_timeout);
  }
}

// A request the parser or the header checks refused: answer, then close (after a malformed
// request the stream can no longer be trusted to be in sync).
void Session::AnswerProtocolError(http::Error error) {
  response_.Reset();
  http::SetError(error, response_);
  http::AppendResponse(response_, worker_.date(), /*keep_alive=*/false,
                       parser_ ? fields_.version : 11, out_);
  parser_.reset();
  close_after_write_ = true;
}

void Session::MaybeWrite() {
  if (writing_ || closed_) return;
  if (out_.empty()) {
    if (close_after_write_ && !handler_pending_ && state_ != State::kLingering) StartLinger();
    return;
  }
  std::swap(out_, writing_buffer_);
  out_.clear();
  writing_ = true;
  write_deadline_ms_ = worker_.now_ms() + Millis(worker_.options().write_timeout);
  boost::asio::async_write(socket_, boost::asio::buffer(writing_buffer_),
                           [this](boost::system::error_code ec, size_t) { OnWrite(ec); });
}

void Session::OnWrite(boost::system::error_code ec) {
  writing_ = false;
  writing_buffer_.clear();
  if (closed_) return MaybeDestroy();
  if (ec) return Close();
  if (!out_.empty()) return MaybeWrite();
  if (close_after_write_) {
    if (!handler_pending_) StartLinger();
    return;
  }
  // Output drained: resume requests that waited for room.
  ProcessInput();
  MaybeWrite();
  MaybeRead();
}

// The last response is out. Half-close, then read and drop what the client still sends until it
// closes too (or the linger timeout): closing a socket with unread input makes the kernel send a
// reset, which can destroy the response before the client reads it (e.g. a 413 for a large body).
void Session::StartLinger() {
  if (state_ == State::kLingering) return;
  state_ = State::kLingering;
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  in_.consume(in_.size());
  SetDeadline(worker_.options().linger_timeout);
  MaybeRead();
}

void Session::OnTick(int64_t now_ms) {
  if (closed_) return;
  if (writing_ && now_ms >= write_deadline_ms_) return Close();  // the client does not read
  if (handler_pending_ || now_ms < deadline_ms_) return;
  switch (state_) {
    case State::kReadingHeader:
    case State::kReadingBody:
      // A partial request that stalled (slowloris, a body shorter than its Content-Length).
      if (!close_after_write_) {
        AnswerProtocolError(http::Error::kTimeout);
        MaybeWrite();
        return;
      }
      return Close();
    case State::kIdle:
    case State::kLingering:
    case State::kHandling:
      return Close();
  }
}

void Session::OnShutdown() {
  shutting_down_ = true;
  if (state_ == State::kIdle && !handler_pending_ && !writing_ && out_.empty()) return Close();
  // Otherwise the request in progress finishes; its response says Connection: close.
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);  // completes pending operations with operation_aborted
  MaybeDestroy();
}

void Session::MaybeDestroy() {
  if (closed_ && !reading_ && !writing_ && !handler_pending_) worker_.Remove(this);
}

}  // namespace rendezvous::net

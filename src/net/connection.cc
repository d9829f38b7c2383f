#include "net/connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <boost/beast/http/error.hpp>

#include "common/http_date.h"
#include "net/client_address.h"

namespace rendezvous::net {
namespace {

namespace bhttp = boost::beast::http;

constexpr size_t kReadChunkBytes = 16 * 1024;
// An output buffer grown past this by a large answer is given back once written, so that an idle
// connection does not keep the largest answer it ever sent.
constexpr size_t kKeptOutputBytes = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

// Who finishes the handler's call, decided race-free between the connection's thread and a store
// thread:
//   kRunning    Handle() is on the stack and `done` has not run
//   kDoneInline `done` ran before Handle() returned: the connection finishes inline
//   kPending    Handle() returned first: the connection waits (store deadline running)
//   kDone       `done` ran after that: OnHandlerDone is posted to the connection's thread
//   kAbandoned  the connection gave the call up: `done` frees the Call, nothing else
enum class Connection::CallState : uint8_t { kRunning, kDoneInline, kPending, kDone, kAbandoned };

struct Connection::Call {
  explicit Call(ConnectionHost& h) : host(&h) {}
  http::Response response;
  std::atomic<CallState> state{CallState::kRunning};
  ConnectionHost* host;  // used only while the connection waits (kPending -> kDone)
};

Connection::Connection(const ServerOptions& options, http::RequestHandler& handler,
                       ConnectionHost& host, const common::IpAddress& peer, int64_t now_ms)
    : options_(options),
      handler_(handler),
      host_(host),
      peer_(peer),
      call_(std::make_unique<Call>(host)) {
  // A new connection gets the header timeout to send its first request (not the longer idle
  // timeout): connections that never speak are a cheap way to hold server resources.
  SetDeadline(now_ms, options_.header_timeout);
}

Connection::~Connection() {
  // Destroyed with a call in the store (server stop): the late completion must find the Call.
  if (call_ != nullptr && call_->state.load(std::memory_order_acquire) == CallState::kPending) {
    AbandonCall(/*replace=*/false);
  }
}

void Connection::SetDeadline(int64_t now_ms, absl::Duration timeout) {
  deadline_ms_ = now_ms + Millis(timeout);
}

bool Connection::WantsRead() const {
  switch (state_) {
    case State::kHandling:
      // A parked long poll reads on (bounded as below, not parsed until it is answered) so that
      // a client that leaves is seen at once and its waiter freed.
      if (!parked_) return false;
      break;
    case State::kClosing:
    case State::kClosed:
      return false;
    case State::kLingering:
      return send_shut_;
    case State::kIdle:
    case State::kReadingHeader:
    case State::kReadingBody:
      break;
  }
  if (shutting_down_ && state_ == State::kIdle) return false;
  if (out_.size() >= options_.output_limit_bytes) return false;  // resumes after the write
  // The parser consumes complete requests as they arrive, so the buffer only ever holds one
  // partial request (bounded by the header and body limits) plus what a pipelining client sent
  // ahead; the latter is bounded here.
  return in_.size() < options_.header_limit_bytes + options_.max_target_bytes +
                          std::max(options_.body_limit_bytes, options_.wide_body_limit_bytes) +
                          kReadChunkBytes;
}

boost::asio::mutable_buffer Connection::ReadBuffer() {
  if (state_ == State::kLingering) in_.consume(in_.size());
  const size_t max_buffered =
      options_.header_limit_bytes + options_.max_target_bytes +
      std::max(options_.body_limit_bytes, options_.wide_body_limit_bytes) + kReadChunkBytes;
  const size_t room =
      in_.size() >= max_buffered ? 0 : std::min(kReadChunkBytes, max_buffered - in_.size());
  return in_.prepare(room);
}

void Connection::OnRead(size_t bytes, int64_t now_ms) {
  in_.commit(bytes);
  read_nanos_ = host_.MonotonicNanos();
  if (state_ == State::kLingering) {
    in_.consume(in_.size());
    return;
  }
  ProcessInput(now_ms);
}

void Connection::OnPeerClosed() {
  switch (state_) {
    case State::kHandling:
      // A client that leaves a long poll is gone: a waiter is not held for nobody (a half-closed
      // client would get nothing sooner than the wait's end anyway).
      if (parked_) return Abort();
      // A half-closed client still gets its answer; then the connection closes.
      peer_closed_ = true;
      return;
    case State::kLingering:
    case State::kClosed:
      state_ = State::kClosed;
      return;
    default:
      break;
  }
  state_ = (writing_ || !out_.empty()) ? State::kClosing : State::kClosed;
}

std::string_view Connection::StartWrite(int64_t now_ms) {
  std::swap(out_, writing_buffer_);
  out_.clear();
  writing_ = true;
  write_deadline_ms_ = now_ms + Millis(options_.write_timeout);
  return writing_buffer_;
}

void Connection::OnWriteDone(int64_t now_ms) {
  writing_ = false;
  if (writing_buffer_.capacity() > kKeptOutputBytes) {
    std::string().swap(writing_buffer_);
  } else {
    writing_buffer_.clear();
  }
  if (!out_.empty()) return;  // the owner writes the rest
  AfterOutputDrained();
  if (state_ != State::kLingering) ProcessInput(now_ms);  // requests that waited for room
  if (state_ != State::kLingering) return;
  SetDeadline(now_ms, options_.linger_timeout);
}

void Connection::AfterOutputDrained() {
  if (state_ == State::kClosing && !writing_ && out_.empty()) {
    // The last response is out: the owner half-closes, then reads and drops what the client
    // still sends until it closes too; closing a socket with unread input makes the kernel send
    // a reset, which can destroy the response before the client reads it (a 413 for a big body).
    state_ = State::kLingering;
    in_.consume(in_.size());
  }
  if (shutting_down_ && state_ == State::kIdle && !writing_ && out_.empty()) {
    state_ = State::kClosed;  // shutdown: the last response is out and no request has started
  }
}

bool Connection::SkipEmptyLines() {
  while (in_.size() > 0) {
    const char* p = static_cast<const char*>(in_.data().data());
    if (p[0] == '\n') {
      in_.consume(1);
    } else if (p[0] == '\r') {
      if (in_.size() < 2) return false;  // a CR alone: is it a CRLF?
      if (p[1] != '\n') return true;     // the parser refuses it
      in_.consume(2);
    } else {
      return true;
    }
  }
  return false;
}

Connection::Downgrade Connection::DowngradeMinorVersion() {
  char* p = static_cast<char*>(in_.data().data());
  const void* lf = std::memchr(p, '\n', in_.size());
  // Beast checks the version as soon as its eight bytes are here, before the line ends.
  if (lf == nullptr) return Downgrade::kNeedMore;
  size_t end = static_cast<size_t>(static_cast<const char*>(lf) - p);
  if (end > 0 && p[end - 1] == '\r') --end;
  constexpr std::string_view kPrefix = " HTTP/1.";
  if (end < kPrefix.size() + 1) return Downgrade::kNo;
  char* version = p + end - kPrefix.size() - 1;
  if (std::string_view(version, kPrefix.size()) != kPrefix) return Downgrade::kNo;
  char& minor = version[kPrefix.size()];
  if (minor < '2' || minor > '9') return Downgrade::kNo;
  minor = '1';
  return Downgrade::kDone;
}

void Connection::ProcessInput(int64_t now_ms) {
  while ((state_ == State::kIdle || state_ == State::kReadingHeader ||
          state_ == State::kReadingBody) &&
         out_.size() < options_.output_limit_bytes) {
    if (!parser_) {
      // RFC 9112 2.2: a server ignores at least one empty line before a request-line (a client
      // may end a POST body with an extra CRLF). Skipping them leaves an idle connection idle.
      if (!SkipEmptyLines()) return;
      parser_.emplace(fields_, options_.header_limit_bytes, options_.body_limit_bytes,
                      options_.max_target_bytes);
      parser_->WidenBodyLimitFor(options_.wide_body_path_prefix, options_.wide_body_limit_bytes);
      header_handled_ = false;
      if (state_ == State::kIdle) {
        state_ = State::kReadingHeader;
        SetDeadline(now_ms, options_.header_timeout);
      }
    }
    boost::beast::error_code ec;
    if (!parser_->is_done()) {
      if (in_.size() == 0) return;  // wait for more bytes
      size_t used = parser_->put(in_.data(), ec);
      if (ec == bhttp::error::bad_version && !parser_->request_line_done()) {
        // RFC 9112 2.6: a later 1.x minor version is answered as HTTP/1.1. Beast refuses
        // anything but 1.0 and 1.1, and a parser cannot be reused after an error.
        const Downgrade downgrade = DowngradeMinorVersion();
        if (downgrade != Downgrade::kNo) {
          parser_.emplace(fields_, options_.header_limit_bytes, options_.body_limit_bytes,
                          options_.max_target_bytes);
          parser_->WidenBodyLimitFor(options_.wide_body_path_prefix,
                                     options_.wide_body_limit_bytes);
          if (downgrade == Downgrade::kNeedMore) return;  // decided once the line is whole
          used = parser_->put(in_.data(), ec);
        }
      }
      in_.consume(used);
    }
    if (ec == bhttp::error::need_more) {
      if (parser_->is_header_done() && !header_handled_) OnHeaderDone(!parser_->is_done(), now_ms);
      return;  // wait for more bytes
    }
    if (ec == bhttp::error::body_limit) {
      // Content-Length (or the chunks so far) exceed the limit: the body is not read, the
      // handler still rate-limits and answers 413, and the connection closes after.
      // Beast raises it for a too-large Content-Length right after the last field, before it
      // marks the header done: the fields are all here.
      if (!header_handled_) {
        OnHeaderDone(/*body_follows=*/false, now_ms);
        if (state_ == State::kClosing) return;
      }
      return Dispatch(/*body_too_large=*/true, now_ms);
    }
    if (ec == bhttp::error::header_limit) {
      return AnswerError(parser_->request_line_done() ? http::Error::kHeaderTooLarge
                                                      : http::Error::kUriTooLong);
    }
    if (ec) {
      return AnswerError(fields_.target_too_long ? http::Error::kUriTooLong
                                                 : http::Error::kBadRequest);
    }
    if (parser_->is_header_done() && !header_handled_) {
      OnHeaderDone(!parser_->is_done(), now_ms);
      if (state_ == State::kClosing) return;
    }
    if (parser_->is_done()) Dispatch(/*body_too_large=*/false, now_ms);
  }
}

void Connection::OnHeaderDone(bool body_follows, int64_t now_ms) {
  header_handled_ = true;
  if (fields_.transfer_encoding_not_chunked || fields_.host_count > 1) {
    return AnswerError(http::Error::kBadRequest);
  }
  if (fields_.transfer_encoding_unsupported) return AnswerError(http::Error::kNotImplemented);
  if (fields_.version >= 11 && fields_.host_count == 0) {
    return AnswerError(http::Error::kMissingHost);
  }
  if (body_follows) {
    state_ = State::kReadingBody;
    SetDeadline(now_ms, options_.body_timeout);
    // Earlier responses are already queued in order, so the interim answer lands right.
    if (fields_.expect_continue && fields_.version >= 11) out_.append(kContinue);
  }
}

void Connection::Dispatch(bool body_too_large, int64_t now_ms) {
  fields_.FillRequest(request_);
  request_.body_too_large = body_too_large;
  request_.received_nanos = read_nanos_;
  request_closes_ = !parser_->keep_alive();
  request_.keep_alive = !request_closes_ && !shutting_down_ && !body_too_large;
  const std::string_view forwarded = fields_.forwarded_for;
  const ClientResolution client = ResolveClient(
      peer_, absl::MakeConstSpan(&forwarded, forwarded.empty() ? 0 : 1), options_.proxies);
  request_.client = client.client;
  request_.client_is_loopback_direct = !client.forwarded && peer_.IsLoopback();
  // What a proxy says about the client's scheme and host is believed only from the proxies
  // whose X-Forwarded-For is: anyone else could make the index page show another server's URL.
  const bool trusted_peer = (!fields_.forwarded_proto.empty() || !fields_.forwarded_host.empty() ||
                            !fields_.forwarded.empty()) &&
                           options_.proxies.IsTrusted(peer_);
  request_.forwarded_proto = trusted_peer ? std::string_view(fields_.forwarded_proto) : "";
  request_.forwarded_host = trusted_peer ? std::string_view(fields_.forwarded_host) : "";
  request_.forwarded = trusted_peer ? std::string_view(fields_.forwarded) : "";

  Call& call = *call_;
  call.response.in_flight.now = absl::InfinitePast();  // set by a handler that times the answer
  call.response.in_flight.cancel = nullptr;
  call.response.in_flight.expire = nullptr;
  call.response.in_flight.wait = absl::ZeroDuration();
  parked_ = false;
  call.state.store(CallState::kRunning, std::memory_order_relaxed);
  state_ = State::kHandling;
  SetDeadline(now_ms, options_.store_timeout);
  Call* const raw = &call;
  handler_.Handle(request_, call.response, [raw] { OnCallDone(raw); });
  CallState expected = CallState::kRunning;
  if (call.state.compare_exchange_strong(expected, CallState::kPending,
                                         std::memory_order_acq_rel)) {
    // The store completes later; OnCallDone posts back to this thread. A long poll waits its
    // own time instead of the store deadline (its expire answers, then the deadline runs).
    const absl::Duration wait = call.response.in_flight.wait;
    if (wait > absl::ZeroDuration()) {
      parked_ = true;
      // The owner's now_ms may be up to a tick old; a wait measured from it would end early. The
      // host's own reading (0 when it has none) makes the wait at least the time asked for.
      SetDeadline(std::max(now_ms, host_.MonotonicNanos() / 1'000'000), wait);
    }
    return;
  }
  FinishResponse(now_ms);
}

void Connection::OnCallDone(Call* call) {
  CallState expected = CallState::kRunning;
  if (call->state.compare_exchange_strong(expected, CallState::kDoneInline,
                                          std::memory_order_acq_rel)) {
    return;  // inline: Dispatch() continues on the connection's thread
  }
  if (expected == CallState::kPending &&
      call->state.compare_exchange_strong(expected, CallState::kDone,
                                          std::memory_order_acq_rel)) {
    call->host->PostCompletion();
    return;
  }
  // kAbandoned: the connection answered without us (or is gone); the Call is ours to free.
  delete call;
}

void Connection::OnHandlerDone(int64_t now_ms) {
  completion_posted_ = false;
  parked_ = false;
  if (state_ == State::kClosed) return;
  FinishResponse(now_ms);
  ProcessInput(now_ms);
}

bool Connection::AbandonCall(bool replace) {
  absl::AnyInvocable<void()> cancel = std::move(call_->response.in_flight.cancel);
  CallState expected = CallState::kPending;
  if (!call_->state.compare_exchange_strong(expected, CallState::kAbandoned,
                                            std::memory_order_acq_rel)) {
    // kDone: the answer is already on its way to OnHandlerDone.
    completion_posted_ = true;
    return false;
  }
  call_.release();  // freed by the late completion (OnCallDone)
  if (replace) call_ = std::make_unique<Call>(host_);
  if (cancel) cancel();
  return true;
}

std::string_view Connection::DateFor(const http::Response& response) {
  // A handler that timed its answer (Expires, X-Expires-In) gets a Date of the same second, so
  // Expires - Date is the X-TTL asked for; the owner's cached date may be up to a second older.
  const absl::Time at = response.in_flight.now;
  if (at == absl::InfinitePast()) return host_.CurrentDate();
  const int64_t second = absl::ToUnixSeconds(at);
  if (date_.empty() || second != date_second_) {
    date_.clear();
    common::AppendHttpDate(at, date_);
    date_second_ = second;
  }
  return date_;
}

void Connection::FinishResponse(int64_t now_ms) {
  const http::Response& response = call_->response;
  const bool keep_alive =
      request_.keep_alive && !response.close && !shutting_down_ && !peer_closed_;
  http::AppendResponse(response, DateFor(response), keep_alive, request_.version, out_);
  parser_.reset();
  ReleaseLargeBuffers();
  if (!keep_alive) {
    state_ = State::kClosing;
    client_sends_no_more_ = request_closes_ && !request_.body_too_large && in_.size() == 0;
    return;
  }
  // A pipelined request already buffered moves to kReadingHeader in ProcessInput (unless it is
  // only empty lines, which leave the connection idle).
  state_ = State::kIdle;
  SetDeadline(now_ms, options_.idle_timeout);
}

void Connection::ReleaseLargeBuffers() {
  // The copy of a large value and the room a large body took are given back once the answer is
  // queued: a connection keeps buffers of its usual requests' size, not of its largest one.
  if (std::string& body = call_->response.body; body.capacity() > kKeptOutputBytes) {
    std::string().swap(body);
  }
  if (fields_.body.capacity() > kKeptOutputBytes) std::string().swap(fields_.body);
  if (in_.size() == 0 && in_.capacity() > 2 * kReadChunkBytes) in_.shrink_to_fit();
}

size_t Connection::BufferBytes() const {
  return in_.capacity() + out_.capacity() + writing_buffer_.capacity() + fields_.body.capacity() +
         call_->response.body.capacity();
}

// A request the parser, the header checks or a deadline refused: answer, then close (after a
// malformed request the stream can no longer be trusted to be in sync).
void Connection::AnswerError(http::Error error) {
  http::Response& response = call_->response;
  response.Reset();
  http::SetError(error, response);
  http::AppendResponse(response, host_.CurrentDate(), /*keep_alive=*/false,
                       parser_ ? fields_.version : 11, out_);
  parser_.reset();
  state_ = State::kClosing;
  client_sends_no_more_ = false;
}

void Connection::OnTick(int64_t now_ms) {
  if (state_ == State::kClosed) return;
  if (writing_ && now_ms >= write_deadline_ms_) {  // the client does not read
    Abort();
    return;
  }
  if (now_ms < deadline_ms_) return;
  switch (state_) {
    case State::kReadingHeader:
    case State::kReadingBody:
      // A partial request that stalled (slowloris, a body shorter than its Content-Length).
      return AnswerError(http::Error::kTimeout);
    case State::kHandling: {
      if (parked_) {
        // The wait is over: the handler answers (304/404/200). From here it is an ordinary
        // store call, so it can no longer be cancelled as a waiter.
        parked_ = false;
        SetDeadline(now_ms, options_.store_timeout);
        absl::AnyInvocable<void()> expire = std::move(call_->response.in_flight.expire);
        call_->response.in_flight.cancel = nullptr;
        if (expire) expire();
        return;
      }
      if (completion_posted_ || !AbandonCall(/*replace=*/true)) return;  // answer on its way
      // The store did not answer in time: 503, and the connection goes on (the request was
      // read whole, so the stream is in sync).
      http::Response& response = call_->response;
      response.Reset();
      http::SetError(http::Error::kUnavailable, response);
      response.in_flight.now = absl::InfinitePast();
      FinishResponse(now_ms);
      ProcessInput(now_ms);
      return;
    }
    case State::kClosing:
      return;  // waits for the write (write deadline)
    case State::kIdle:
    case State::kLingering:
    case State::kClosed:
      state_ = State::kClosed;
      return;
  }
}

void Connection::OnShutdown() {
  shutting_down_ = true;
  AfterOutputDrained();  // closes an idle connection with nothing to write
}

void Connection::Abort() {
  if (state_ == State::kHandling && parked_ && !completion_posted_) {
    // Cancelled while this connection still owns the Response (a parked call cannot be freed
    // under it): the waiter is unlinked now, and its completion, if the handler runs it, is
    // posted like any other.
    parked_ = false;
    absl::AnyInvocable<void()> cancel = std::move(call_->response.in_flight.cancel);
    if (cancel) cancel();
  }
  if (state_ == State::kHandling && !completion_posted_) AbandonCall(/*replace=*/false);
  state_ = State::kClosed;
}

}  // namespace rendezvous::net

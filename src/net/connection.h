// Connection: the HTTP/1.1 protocol of one client connection, without a socket.
//
// Bytes and the current time go in (OnRead, OnTick, OnWriteDone, ...); bytes to write and what the
// socket owner does next come out (WantsRead, HasOutput/StartWrite, WantsShutdownSend, state()).
// net::Session is the socket owner in the server; the unit tests and the fuzzer drive this class
// directly, with a time they choose.
//
// Lifecycle: one state at a time (State below). The output side is apart from it: responses are
// queued while later requests are read, and every request already in the buffer is handled before
// the owner writes, so pipelined responses leave in order in one write.
//
// Deadlines (from ServerOptions) are kept as absolute times in milliseconds of the owner's
// monotonic clock and checked by OnTick:
//   new connection, first byte of a request -> header complete      header_timeout (408, close)
//   header complete -> body complete                                body_timeout   (408, close)
//   the handler (and the store) working on a request                store_timeout  (503 with
//       Retry-After; the connection goes on with the next request, since the stream is in sync)
//   a long poll parked until its key changes (InFlight::wait)       its wait (the handler's
//       expire answers; then store_timeout runs as for any store call)
//
// Long poll: while a call with a wait is parked, the connection keeps reading (bytes are
// buffered, bounded, and parsed only after the answer), so a client that closes or resets is
// seen at once: the call is cancelled (InFlight::cancel, while the connection still owns the
// Response, so the handler's racing completion cannot free it under the cancel) and dropped.
//   a write in progress                                             write_timeout  (close)
//   keep-alive wait between requests                                idle_timeout   (close)
//   reading leftovers after the last response                       linger_timeout (close)
//
// The handler's call: the Response it writes into lives in a heap block (a Call) owned by the
// connection and reused for every request, so a steady connection allocates nothing. When the
// store deadline passes or the client goes away (Abort) while the call is still running, the
// connection gives the block up: the late completion frees it and touches nothing else, the
// optional Response::InFlight::cancel is called, and a fresh block serves the next request (an
// allocation only on this rare path). A client that disconnects while its request is in the store
// thus frees its connection at once, except in the short window where the store has already
// answered and the completion is posted (then CanDestroy() turns true when OnHandlerDone runs).
//
// Thread-safety: not thread-safe; every member is called on the owner's thread. The one exception
// is inside: the handler's completion may run on a store thread, which then only calls
// ConnectionHost::PostCompletion.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "http/errors.h"
#include "http/request.h"
#include "http/request_handler.h"
#include "http/response.h"
#include "net/options.h"
#include "net/request_parser.h"

namespace rendezvous::net {

// What a Connection needs from its owner.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  // Called from any thread (a store's) when the handler completed after Handle returned: the owner
  // must call Connection::OnHandlerDone on the connection's thread, even if it closed meanwhile.
  virtual void PostCompletion() = 0;
  // The current Date header value (IMF-fixdate), for answers the handler did not time itself.
  virtual std::string_view CurrentDate() = 0;
  // A monotonic reading (common::Clock::MonotonicNanos) taken once per read, so that the requests
  // of one read share it as their Request::received_nanos; 0 (the default): not measured, the
  // router reads its clock itself.
  virtual int64_t MonotonicNanos() { return 0; }
};

class Connection {
 public:
  enum class State : uint8_t {
    kIdle,           // waiting for the first byte of a request (header deadline on a new
                     // connection, idle deadline between requests)
    kReadingHeader,  // part of a request header is here (header deadline)
    kReadingBody,    // header complete, body incomplete (body deadline)
    kHandling,       // the handler (and the store) works on a request (store deadline); reading
                     // pauses, since the next request would need the same buffers
    kClosing,        // the last response is queued: nothing more is read or handled; once the
                     // output is written the connection lingers
    kLingering,      // the last response is written and the owner shut the send side down;
                     // reading and dropping what the client still sends until EOF (linger
                     // deadline), so that closing does not reset the connection under the answer
    kClosed,         // the owner closes the socket; the connection is done
  };

  // `peer` is the TCP peer (the client address before X-Forwarded-For). References must outlive
  // the connection.
  Connection(const ServerOptions& options, http::RequestHandler& handler, ConnectionHost& host,
             const common::IpAddress& peer, int64_t now_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  State state() const { return state_; }

  // Reading. WantsRead: the owner should have a read in flight now. ReadBuffer: where the next
  // read puts its bytes (valid until OnRead; non-empty when WantsRead). OnRead: `bytes` arrived
  // there. OnPeerClosed: the read found EOF or an error; a request already being handled is still
  // answered (a half-closed client), anything else closes.
  bool WantsRead() const;
  boost::asio::mutable_buffer ReadBuffer();
  void OnRead(size_t bytes, int64_t now_ms);
  void OnPeerClosed();

  // Writing. HasOutput: bytes are queued and no write is in flight. StartWrite: takes every
  // queued byte for one write (the view is valid until OnWriteDone). OnWriteDone: all of it was
  // written. A failed write is the owner's Abort().
  bool HasOutput() const { return !writing_ && !out_.empty(); }
  std::string_view StartWrite(int64_t now_ms);
  void OnWriteDone(int64_t now_ms);
  // True once, when the last response is written: the owner shuts the send side down (state is
  // then kLingering).
  bool WantsShutdownSend() const { return state_ == State::kLingering && !send_shut_; }
  // Whether the last response answered a request whose client said it sends nothing more
  // (Connection: close, or HTTP/1.0 without keep-alive), read whole, with no byte after it: the
  // owner may then close at once instead of lingering (what lingering guards against, a reset
  // that destroys the answer because more bytes arrive after the close, needs a client that
  // breaks its own word; RFC 9112 section 9.6).
  bool ClientSendsNoMore() const { return client_sends_no_more_; }
  void OnShutdownSend() { send_shut_ = true; }

  // Deadlines: called with the current time, at least once a second.
  void OnTick(int64_t now_ms);
  // Server shutdown: the request in progress finishes (its response says Connection: close);
  // an idle connection closes at once.
  void OnShutdown();
  // On the connection's thread, after ConnectionHost::PostCompletion.
  void OnHandlerDone(int64_t now_ms);
  // The socket is gone (closed by the owner, a failed write or read): gives up a running handler
  // call (cancelling it) and moves to kClosed.
  void Abort();
  // The bytes its buffers hold (capacity), for tests: after a large request or answer it falls back
  // to about the size of the usual ones.
  size_t BufferBytes() const;
  // Whether the owner may destroy the connection now (no completion is on its way to it).
  bool CanDestroy() const { return !completion_posted_; }

 private:
  struct Call;
  void ReleaseLargeBuffers();
  enum class CallState : uint8_t;

  // Parses and handles every complete request in the buffer, in order, until one waits in the
  // store, the output is full, or more bytes are needed.
  void ProcessInput(int64_t now_ms);
  // Drops empty lines before a request-line (RFC 9112 2.2). False: more bytes are needed to know.
  bool SkipEmptyLines();
  // An `HTTP/1.x` request-line with x > 1 is answered as HTTP/1.1 (RFC 9112 2.6): rewrites the
  // minor digit in the buffered request-line (kDone). kNo: the line has another version;
  // kNeedMore: the line has not ended yet.
  enum class Downgrade : uint8_t { kNo, kDone, kNeedMore };
  Downgrade DowngradeMinorVersion();
  void OnHeaderDone(bool body_follows, int64_t now_ms);
  void Dispatch(bool body_too_large, int64_t now_ms);
  void FinishResponse(int64_t now_ms);
  void AnswerError(http::Error error);
  // Gives up the running call (see the file comment). False when its completion is already on
  // its way (then OnHandlerDone will come).
  bool AbandonCall(bool replace);
  static void OnCallDone(Call* call);  // any thread
  std::string_view DateFor(const http::Response& response);
  void SetDeadline(int64_t now_ms, absl::Duration timeout);
  void AfterOutputDrained();

  const ServerOptions& options_;
  http::RequestHandler& handler_;
  ConnectionHost& host_;
  const common::IpAddress peer_;

  State state_ = State::kIdle;
  bool writing_ = false;           // a write is in flight (StartWrite .. OnWriteDone)
  bool request_closes_ = false;    // the request being handled said Connection: close (or 1.0)
  bool client_sends_no_more_ = false;  // see ClientSendsNoMore
  bool send_shut_ = false;
  bool peer_closed_ = false;       // EOF seen while a request was being handled
  bool shutting_down_ = false;
  bool completion_posted_ = false;  // the call completed late; OnHandlerDone is on its way
  // The call is a long poll waiting for its key to change (Response::InFlight::wait): the
  // connection reads on to see the client leave, and its deadline is the wait's end.
  bool parked_ = false;
  int64_t deadline_ms_ = 0;         // for the current state
  int64_t read_nanos_ = 0;          // host_.MonotonicNanos() at the last read
  int64_t write_deadline_ms_ = 0;   // while writing_

  boost::beast::flat_buffer in_;
  RequestFields fields_;
  std::optional<RequestParser> parser_;
  bool header_handled_ = false;
  http::Request request_;
  std::unique_ptr<Call> call_;  // the handler's Response and completion state
  std::string out_;             // responses not yet handed to a write
  std::string writing_buffer_;  // the bytes of the write in flight
  int64_t date_second_ = 0;     // the second date_ shows (for responses the handler timed)
  std::string date_;
};

}  // namespace rendezvous::net

// Session: one client connection, from accept to close.
//
// Lifecycle (one state at a time; see docs/ARCHITECTURE.md):
//   kIdle           waiting for the first byte of a request (new or keep-alive connection)
//   kReadingHeader  part of a request header has arrived (header deadline running)
//   kReadingBody    header complete, body incomplete (body deadline running)
//   kHandling       the handler (and the store) is working on the request
//   kLingering      the last response is written; reading and dropping what the client still
//                   sends until EOF, so that closing does not reset the connection under it
// Responses are written while later requests are read: every request already in the buffer is
// handled and all their responses go out in one write (pipelining, in request order).
//
// Bounds: header block (431) and body (413) limits come from Beast's parser; pending output past
// output_limit_bytes stops reading until written; every read and write has a deadline checked by
// the worker's one-second tick (no per-operation timers).
//
// Threading: a session lives on one worker's io_context and is touched only from that thread,
// except the handler completion, which may come from a store thread and is posted back.
// Ownership: the Worker owns its sessions; a session asks the worker to delete it once closed
// and no asynchronous operation refers to it any more.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "common/ip_address.h"
#include "http/errors.h"
#include "http/request.h"
#include "http/response.h"
#include "net/request_parser.h"

namespace rendezvous::net {

class Worker;

class Session {
 public:
  // `peer` holds a slot of the worker's ConnectionLimiter (taken with `exempt`), given back by
  // the destructor.
  Session(Worker& worker, boost::asio::ip::tcp::socket socket, const common::IpAddress& peer,
          bool exempt);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Called by the worker once a second with its monotonic time in milliseconds.
  void OnTick(int64_t now_ms);
  // Server shutdown: finish the request in progress, then close; close at once if idle.
  void OnShutdown();

  // Intrusive list links, owned by Worker.
  Session* prev = nullptr;
  Session* next = nullptr;

 private:
  enum class State : uint8_t { kIdle, kReadingHeader, kReadingBody, kHandling, kLingering };
  // Where the handler's completion happened, decided race-free between the I/O thread and a
  // store thread: inline (before Handle returned) or later (posted to this session's thread).
  enum class Completion : uint8_t { kRunning, kDoneInline, kPending };

  void MaybeRead();
  size_t ReadRoom() const;  // bytes the next read may add to in_ (0: the buffer is full)
  void OnRead(boost::system::error_code ec, size_t bytes);
  void ProcessInput();
  // Checks the complete header; `body_follows` when body bytes are still to be read.
  void OnHeaderDone(bool body_follows);
  void Dispatch(bool body_too_large);
  void OnHandlerDone();  // any thread
  void FinishResponse();
  void AnswerProtocolError(http::Error error);
  void MaybeWrite();
  void OnWrite(boost::system::error_code ec);
  void StartLinger();
  void SetDeadline(absl::Duration timeout);
  void Close();
  void MaybeDestroy();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  const common::IpAddress peer_;
  const bool exempt_from_client_cap_;

  State state_ = State::kIdle;
  bool served_any_ = false;       // at least one response queued (idle timeout applies)
  bool reading_ = false;          // an async read is in flight
  bool writing_ = false;          // an async write is in flight
  bool handler_pending_ = false;  // Handle() called, FinishResponse() not yet
  bool close_after_write_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
  int64_t deadline_ms_ = 0;        // read-side deadline for the current state
  int64_t write_deadline_ms_ = 0;  // while writing_
  std::atomic<Completion> completion_{Completion::kRunning};

  boost::beast::flat_buffer in_;
  RequestFields fields_;
  std::optional<RequestParser> parser_;
  bool header_handled_ = false;
  http::Request request_;
  http::Response response_;
  std::string out_;      // responses not yet handed to the socket
  std::string writing_buffer_;  // the bytes of the write in flight
};

}  // namespace rendezvous::net

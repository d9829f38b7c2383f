// Session: one client connection's socket, from accept to close, over plain TCP or over TLS.
//
// The protocol (parsing, pipelining, 100-continue, the handler call, every deadline) lives in the
// socket-free net::Connection (connection.h); the session only moves bytes between the stream and
// it: it arms a read when the connection wants bytes (Asio's speculative read: recv first), one
// write for everything queued, the half-close before lingering, passes the worker's one-second
// tick on as the connection's deadline check, and posts a handler completion that arrived on a
// store thread back to its own thread.
//
// The stream is a template parameter, so the plain path calls the socket directly (no virtual
// call per read or write); the two instantiations are PlainSession (tcp::socket) and TlsSession
// (ssl::stream<tcp::socket>). Only the worker's list and tick go through SessionBase's virtual
// functions, once per session per second.
//
// TLS: the session first runs the server handshake, with its own deadline (handshake_timeout,
// checked on the tick); the Connection (and its buffers) exists only once the handshake is done, so
// a client that sends garbage or stalls costs a socket and OpenSSL's state, not the HTTP buffers,
// and its slot of the connection caps is held meanwhile. A failed handshake closes the connection
// without a log line of its own (the worker logs at most one line a minute). The half-close of a
// TLS connection is close_notify (async_shutdown): it also waits for the client's close_notify,
// bounded by the connection's linger deadline, instead of draining leftovers.
//
// Threading: a session lives on one worker's io_context and is touched only from that thread,
// except PostCompletion, which may be called from a store thread (it only posts).
// Ownership: the Worker owns its sessions; a session asks the worker to delete it once closed and
// no asynchronous operation (handshake, read, write, shutdown, posted completion) refers to it
// any more.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "common/ip_address.h"
#include "http/request_handler.h"
#include "net/connection.h"

namespace rendezvous::net {

class Worker;

// What the worker sees of a session, of either kind.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Start() = 0;
  // Called by the worker once a second with its monotonic time in milliseconds.
  virtual void OnTick(int64_t now_ms) = 0;
  // Server shutdown: finish the request in progress, then close; close at once if idle.
  virtual void OnShutdown() = 0;

  // Intrusive list links, owned by Worker.
  SessionBase* prev = nullptr;
  SessionBase* next = nullptr;
};

template <class Stream>
class Session final : public SessionBase, private ConnectionHost {
 public:
  using StreamType = Stream;
  static constexpr bool kTls = !std::is_same_v<Stream, boost::asio::ip::tcp::socket>;

  // `peer` holds a slot of the worker's ConnectionLimiter (taken with `exempt`), given back by
  // the destructor. `tls_context` (TLS only) is the context `stream` was made with, kept alive
  // for the connection's life across reloads.
  Session(Worker& worker, http::RequestHandler& handler, Stream stream,
          const common::IpAddress& peer, bool exempt,
          std::shared_ptr<boost::asio::ssl::context> tls_context = nullptr);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() override;
  void OnTick(int64_t now_ms) override;
  void OnShutdown() override;

 private:
  // ConnectionHost.
  void PostCompletion() override;  // any thread
  std::string_view CurrentDate() override;
  int64_t MonotonicNanos() override;

  void OnHandshake(boost::system::error_code ec);
  // Does what the connection asks for after every event: write, half-close, read, or close.
  void Pump();
  void OnRead(boost::system::error_code ec, size_t bytes);
  void OnWrite(boost::system::error_code ec);
  void Close();
  void MaybeDestroy();
  boost::asio::ip::tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  Worker& worker_;
  http::RequestHandler& handler_;
  const std::shared_ptr<boost::asio::ssl::context> tls_context_;
  Stream stream_;
  const common::IpAddress peer_;
  const bool exempt_from_client_cap_;
  // Empty during the TLS handshake.
  std::optional<Connection> connection_;
  int64_t handshake_deadline_ms_ = 0;
  bool handshaking_ = false;  // an async handshake is in flight
  bool reading_ = false;      // an async read (or, TLS lingering, the shutdown) is in flight
  bool writing_ = false;      // an async write is in flight
  bool closed_ = false;
};

using TlsSession = Session<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

extern template class Session<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace rendezvous::net

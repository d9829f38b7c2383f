// Session: one client connection, from accept to close, over plain TCP or over TLS, on the worker's
// Poller (edge-triggered: poller.h).
//
// The protocol (parsing, pipelining, 100-continue, the handler call, every deadline) lives in the
// socket-free net::Connection (connection.h); the session only moves bytes between the socket and
// it, through its Transport (transport.h: recv and send; tls_transport.h: OpenSSL over them):
// - it reads while the connection wants bytes and the transport has some: a read that fills less
//   than the buffer drained the socket, so the next read waits for the poller's next readable edge
//   (no read that only finds EAGAIN);
// - it writes everything queued, and what the kernel did not take when it becomes writable again;
// - the half-close before lingering (TLS: close_notify), the worker's one-second tick as the
//   deadline check, and a handler completion that arrived on a store thread posted back to its
//   own thread.
//
// TLS: the session first runs the server handshake, with its own deadline (handshake_timeout,
// checked on the tick); the Connection (and its buffers) exists only once the handshake is done,
// so a client that sends garbage or stalls costs a socket and OpenSSL's state, not the HTTP
// buffers, and its slot of the connection caps is held meanwhile. A failed handshake closes the
// connection without a log line of its own (the worker logs at most one line a minute).
//
// The transport is a template parameter, so the plain path calls recv and send directly (no virtual
// call per read or write); the two instantiations are PlainSession and TlsSession. Only the
// worker's list and tick go through SessionBase's virtual functions, once per session per second.
//
// Threading: a session lives on one worker's thread, except PostCompletion, which may be called
// from a store thread (it only posts). Ownership: the Worker owns its sessions; a session asks the
// worker to delete it once its socket is closed and no posted completion refers to it any more.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "common/ip_address.h"
#include "http/request_handler.h"
#include "net/connection.h"
#include "net/poller.h"
#include "net/tls_transport.h"
#include "net/transport.h"

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

template <class Transport>
class Session final : public SessionBase, private ConnectionHost, private PollTarget {
 public:
  // `fd`: the accepted socket, non-blocking; the session closes it. `peer` holds a slot of the
  // worker's ConnectionLimiter (taken with `exempt`), given back by the destructor.
  // `transport_args`: the transport's after the descriptor (TLS: the context).
  template <class... TransportArgs>
  Session(Worker& worker, http::RequestHandler& handler, int fd, const common::IpAddress& peer,
          bool exempt, TransportArgs&&... transport_args)
      : worker_(worker),
        handler_(handler),
        peer_(peer),
        exempt_from_client_cap_(exempt),
        transport_(fd, std::forward<TransportArgs>(transport_args)...) {}
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
  // PollTarget.
  void OnPollEvents(uint32_t events) override;

  // Moves bytes until neither side can progress, doing what the connection asks on the way
  // (half-close, close).
  void Pump();
  // After a send found the socket full: asks the poller for its writable edges (once).
  void WatchWritableIfFull();
  // The TLS handshake's step; true when it finished (the connection exists).
  bool TryHandshake();
  // One step each; true when something changed (bytes moved, or the connection's state).
  bool TryWrite();
  bool TryRead();
  void Close();
  void MaybeDestroy();

  Worker& worker_;
  http::RequestHandler& handler_;
  const common::IpAddress peer_;
  const bool exempt_from_client_cap_;
  Transport transport_;
  // Empty during the TLS handshake.
  std::optional<Connection> connection_;
  std::string_view out_;  // the write in progress (from Connection::StartWrite)
  size_t written_ = 0;    // of out_
  int64_t handshake_deadline_ms_ = 0;
  bool readable_ = true;  // the socket may have bytes (no short read since the last edge)
  bool writable_ = true;  // the socket's send buffer may have room
  bool watching_writable_ = false;  // the poller reports its writable edges (after an EAGAIN)
  bool writing_ = false;  // out_ is not all written yet
  bool closed_ = false;
};

using PlainSession = Session<PlainTransport>;
using TlsSession = Session<TlsTransport>;

extern template class Session<PlainTransport>;
extern template class Session<TlsTransport>;

}  // namespace rendezvous::net

// PlainSession: one plain-TCP client connection, from accept to close, on the worker's Poller.
//
// The protocol (parsing, pipelining, 100-continue, the handler call, every deadline) lives in the
// socket-free net::Connection (connection.h); the session only moves bytes between the socket and
// it, with non-blocking recv and send on the descriptor itself:
// - it reads while the connection wants bytes and the socket may have some: a read that fills
//   less than the buffer drained the socket, so the next read waits for the poller's next
//   readable edge (no read that only finds EAGAIN, which is what a request costs least);
// - it writes everything queued at once, and what the kernel did not take when it becomes
//   writable again;
// - the half-close before lingering, the worker's one-second tick as the deadline check, and a
//   handler completion that arrived on a store thread posted back to its own thread.
//
// Threading: the session lives on one worker's thread, except PostCompletion, which may be called
// from a store thread (it only posts). Ownership: the Worker owns its sessions; a session asks the
// worker to delete it once its socket is closed and no posted completion refers to it any more.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/ip_address.h"
#include "http/request_handler.h"
#include "net/connection.h"
#include "net/poller.h"
#include "net/session.h"

namespace rendezvous::net {

class Worker;

class PlainSession final : public SessionBase, private ConnectionHost, private PollTarget {
 public:
  // `fd`: the accepted socket, non-blocking; the session closes it. `peer` holds a slot of the
  // worker's ConnectionLimiter (taken with `exempt`), given back by the destructor.
  PlainSession(Worker& worker, http::RequestHandler& handler, int fd,
               const common::IpAddress& peer, bool exempt);
  ~PlainSession() override;
  PlainSession(const PlainSession&) = delete;
  PlainSession& operator=(const PlainSession&) = delete;

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

  // Moves bytes until neither side can progress, then does what the connection asks: half-close,
  // or close.
  void Pump();
  // One step each; true when it changed something (bytes moved, or the connection's state).
  bool TryWrite();
  bool TryRead();
  void Close();
  void MaybeDestroy();

  Worker& worker_;
  const common::IpAddress peer_;
  const bool exempt_from_client_cap_;
  int fd_;
  Connection connection_;
  std::string_view out_;     // the write in progress (from Connection::StartWrite)
  size_t written_ = 0;       // of out_
  bool readable_ = true;     // the socket may have bytes (no short read since the last edge)
  bool writable_ = true;     // the socket's send buffer may have room
  bool writing_ = false;     // out_ is not all written yet
  bool closed_ = false;
};

}  // namespace rendezvous::net

// Session: one client connection's socket, from accept to close.
//
// The protocol (parsing, pipelining, 100-continue, the handler call, every deadline) lives in the
// socket-free net::Connection (connection.h); the session only moves bytes between the socket and
// it: it arms a read when the connection wants bytes (Asio's speculative read: recv first), one
// write for everything queued, the half-close before lingering, passes the worker's one-second
// tick on as the connection's deadline check, and posts a handler completion that arrived on a
// store thread back to its own thread.
//
// Threading: a session lives on one worker's io_context and is touched only from that thread,
// except PostCompletion, which may be called from a store thread (it only posts).
// Ownership: the Worker owns its sessions; a session asks the worker to delete it once closed and
// no asynchronous operation (read, write, posted completion) refers to it any more.
#pragma once

#include <cstdint>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

#include "common/ip_address.h"
#include "net/connection.h"

namespace rendezvous::net {

class Worker;

class Session final : private ConnectionHost {
 public:
  // `peer` holds a slot of the worker's ConnectionLimiter (taken with `exempt`), given back by
  // the destructor.
  Session(Worker& worker, boost::asio::ip::tcp::socket socket, const common::IpAddress& peer,
          bool exempt);
  ~Session() override;
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
  // ConnectionHost.
  void PostCompletion() override;  // any thread
  std::string_view CurrentDate() override;

  // Does what the connection asks for after every event: write, half-close, read, or close.
  void Pump();
  void OnRead(boost::system::error_code ec, size_t bytes);
  void OnWrite(boost::system::error_code ec);
  void Close();
  void MaybeDestroy();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  const common::IpAddress peer_;
  const bool exempt_from_client_cap_;
  Connection connection_;
  bool reading_ = false;  // an async read is in flight
  bool writing_ = false;  // an async write is in flight
  bool closed_ = false;
};

}  // namespace rendezvous::net

// Poller: one worker's readiness of its own sockets, edge-triggered, the way nginx waits.
//
// Each socket is registered once (EPOLLIN | EPOLLRDHUP | EPOLLET) in an epoll instance of the
// worker's own, and stays registered until it is closed (closing a socket removes it, so there is
// no EPOLL_CTL_DEL). Writability is watched only for a socket whose send buffer once filled up
// (WatchWritable, kept from then on): otherwise every ACK that frees room would be one more event,
// and one more wake-up of the io_context's epoll, for nothing. Its target then reads until a read comes back short and writes until
// the kernel takes no more, and waits for the next edge only after that. Asio's reactor, which
// this replaces for client connections and the listening sockets, spends a syscall per request
// more: a speculative recv that fails with EAGAIN before it waits, or an EPOLL_CTL_MOD to re-arm
// when it waits without one.
//
// The worker's io_context still runs the thread: the poller's epoll descriptor is itself one
// descriptor of that io_context, waited for with async_wait. When it is readable the poller takes
// the ready events (epoll_wait with no timeout, at most kBatch at a time, again while full
// batches come) and calls each target's OnPollEvents, then waits again. So a batch of ready
// sockets costs three syscalls in all (Asio's epoll_wait, ours, Asio's re-arm of our
// descriptor), whatever its size; everything else Asio does (posted store completions, timers,
// TLS sessions, Redis connections) is unchanged.
//
// A target must stay alive until the batch in which it closed its socket has been dispatched: an
// event of that batch may still name it. The worker defers deleting sessions while Dispatching()
// and frees them in `after_dispatch`, which runs after every batch.
//
// Thread-safety: everything on the worker's thread.
#pragma once

#include <cstdint>

#include "absl/functional/any_invocable.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

namespace rendezvous::net {

class PollTarget {
 public:
  // `events`: the epoll bits that fired (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void OnPollEvents(uint32_t events) = 0;

 protected:
  ~PollTarget() = default;
};

class Poller {
 public:
  // Creates the epoll instance; failure is reported by Start.
  Poller(boost::asio::io_context& io_context, absl::AnyInvocable<void()> after_dispatch);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers `fd` (non-blocking) for `target`, edge-triggered for reading and writing. The
  // registration ends when the descriptor is closed.
  [[nodiscard]] boost::system::error_code Add(int fd, PollTarget* target);
  // From now on also reports EPOLLOUT edges for `fd` (and one at once if it is writable now).
  [[nodiscard]] boost::system::error_code WatchWritable(int fd, PollTarget* target);

  // Starts waiting (returns the epoll_create1 error, if any); Stop ends the wait so that the
  // io_context can run out of work.
  [[nodiscard]] boost::system::error_code Start();
  void Stop();

  // True while targets' OnPollEvents are being called.
  bool Dispatching() const { return dispatching_; }

 private:
  static constexpr int kBatch = 256;
  void Wait();
  void Dispatch();

  boost::asio::posix::stream_descriptor descriptor_;
  absl::AnyInvocable<void()> after_dispatch_;
  boost::system::error_code create_error_;
  bool dispatching_ = false;
  bool stopped_ = false;
};

}  // namespace rendezvous::net

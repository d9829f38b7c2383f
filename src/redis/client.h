// Client: a pipelining Redis client with deadlines and reconnection, whose connections run either
// on threads of its own or on the caller's I/O threads.
//
// Shared connections: the client keeps `connections` connections to one Redis endpoint, each
// owned by a thread of its own (an io_context running a hiredis async context through a small
// Asio adapter). A command is formatted on the calling thread, handed to one of them (round
// robin) and written behind the commands already in flight: many commands are outstanding on one
// connection, and their replies come back in order.
//
// Worker connections (AttachWorkers): one more connection on each of the caller's io_contexts
// (the HTTP server's workers), each run by one thread. A command issued on such a thread while its
// connection serves goes there with no hand-off: that thread formats and writes it, reads and
// parses the reply and runs the callback, with no other thread woken (a hand-off costs two thread
// switches per batch: a third of the server's CPU per GET, measured in docs/scaling.md).
// Commands issued on any other thread (start-up, sweeps, long-poll wake-ups), or on a worker's
// thread while its connection is connecting or draining, use the shared connections. (Not for an
// endpoint given by a host name: see AttachWorkers.)
//
// Every command completes exactly once:
// - with CommandError::kOk and the reply (which may be a Redis error reply, Reply::kError);
// - kDisconnected, at once on the calling thread, while the connection is down (never queued);
// - kOverloaded, at once, when `max_pending` commands are already in flight on that connection;
// - kTimeout when a command in flight waited `command_timeout` for its reply: the connection is
//   then dropped (the replies of a stalled server can no longer be trusted to arrive in time),
//   every other command in flight on it fails with kDisconnected, and it reconnects;
// - kShutdown when the client is destroyed (or its worker connections detached) with the command
//   in flight.
// Callbacks run on the connection's thread (a worker connection's: the worker's thread), or inline
// in the caller for the immediate failures; they must be short and may issue new commands.
//
// Connecting: TCP or unix socket, then AUTH (when the endpoint has a password), SELECT (when the
// database is not 0) and PING, pipelined; the connection serves only when all three succeeded,
// within `connect_timeout` of the attempt. A failed attempt or a lost connection retries after a
// backoff that starts at `backoff_min` and doubles up to `backoff_max`; a successful connection
// resets it. Worker connections follow the same rules, each on its own.
//
// Thread-safety: Command and SharedCommand may be called from any thread, concurrently.
// AttachWorkers, DrainWorkers, DetachWorkers and the destructor are called from one controlling
// thread, not concurrently with one another; the destructor and DetachWorkers must not run
// concurrently with Command, and only while no thread runs the attached io_contexts (which must
// outlive the attachment). Shutdown order: DrainWorkers, stop the io_contexts' threads,
// DetachWorkers (or destroy the client), then the io_contexts may go.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "redis/reply.h"
#include "redis/url.h"

// Only referred to here: this header stays free of Asio for kv/ (redis/connection.h has it).
namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace rendezvous::redis {

enum class CommandError : uint8_t {
  kOk = 0,
  kDisconnected,  // no connection (down, connecting, or lost with the command in flight)
  kTimeout,       // no reply within command_timeout
  kOverloaded,    // max_pending commands already in flight on the connection
  kShutdown,      // the client was destroyed
};

std::string_view CommandErrorText(CommandError error);

// `reply` is meaningful only when error == kOk; it is valid during the call only.
using ReplyCallback = absl::AnyInvocable<void(CommandError error, const Reply& reply)>;

struct ClientOptions {
  Endpoint endpoint;
  size_t connections = 1;
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);
  absl::Duration backoff_min = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
  size_t max_pending = 16384;  // per connection
};

class Connection;

class Client {
 public:
  // Starts the threads and the first connection attempts; returns at once (see WaitConnected).
  explicit Client(ClientOptions options);
  // Fails every command in flight with kShutdown, closes the connections and joins the threads;
  // detaches the worker connections (DetachWorkers).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command, e.g. Command({"SET", key, value}, done). The arguments are binary-safe and
  // copied before the call returns.
  void Command(absl::Span<const std::string_view> args, ReplyCallback done);
  void Command(std::initializer_list<std::string_view> args, ReplyCallback done) {
    Command(absl::Span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }

  // Always on a shared connection, even on a worker's thread: for a caller that blocks until the
  // reply arrives (on a worker's thread it would wait for a reply only that thread can read).
  void SharedCommand(absl::Span<const std::string_view> args, ReplyCallback done);
  void SharedCommand(std::initializer_list<std::string_view> args, ReplyCallback done) {
    SharedCommand(absl::Span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }

  // Starts one worker connection on each io_context, each of which exactly one thread runs. A
  // thread's commands use its connection from the first time it runs its io_context after this
  // (until then, and whenever the connection does not serve, the shared ones). At most one
  // attachment at a time; a thread serves at most one client's worker connection. Attaches
  // nothing when the endpoint is a host name other than localhost: hiredis resolves it with a
  // blocking DNS query at every connection attempt, which must not stall a worker.
  void AttachWorkers(absl::Span<boost::asio::io_context* const> io_contexts);
  // Starts closing the worker connections: they take no new command (those go to the shared
  // connections) and close once the commands in flight on them completed, so that the io_contexts
  // can run out of work. Returns at once.
  void DrainWorkers();
  // Closes the worker connections now (kShutdown for what is in flight, callbacks on this thread)
  // and forgets them. No thread may run their io_contexts meanwhile. Nothing when none attached.
  void DetachWorkers();

  // Blocks until every connection (shared and worker) serves, or `timeout` passed. For start-up
  // and tests; from the controlling thread.
  [[nodiscard]] bool WaitConnected(absl::Duration timeout);

  // How many shared connections serve now, of connection_count().
  size_t ConnectedCount() const;
  size_t connection_count() const { return connections_.size(); }
  // How many worker connections serve now, of worker_connection_count(). Controlling thread.
  size_t WorkerConnectedCount() const;
  size_t worker_connection_count() const { return workers_.size(); }

 private:
  void SendShared(std::string command, ReplyCallback done);

  ClientOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::atomic<size_t> next_{0};
  std::vector<std::unique_ptr<Connection>> workers_;
  // Names the current attachment (unique in the process, 0: none). A worker's thread remembers
  // the attachment and connection it serves; a stale memory (an earlier attachment, another
  // client) never matches.
  std::atomic<uint64_t> attachment_{0};
};

// The RESP encoding of a command (an array of bulk strings), as hiredis would write it.
std::string FormatCommand(absl::Span<const std::string_view> args);

}  // namespace rendezvous::redis

// Client: a pipelining Redis client with its own I/O thread(s), deadlines and reconnection.
//
// The client keeps `connections` connections to one Redis endpoint, each owned by a thread of its
// own (an io_context running a hiredis async context through a small Asio adapter). A command is
// formatted on the calling thread, handed to one connection (round robin) and written behind the
// commands already in flight: many commands are outstanding on one connection, and their replies
// come back in order.
//
// Every command completes exactly once:
// - with CommandError::kOk and the reply (which may be a Redis error reply, Reply::kError);
// - kDisconnected, at once on the calling thread, while the connection is down (never queued);
// - kOverloaded, at once, when `max_pending` commands are already in flight on that connection;
// - kTimeout when a command in flight waited `command_timeout` for its reply: the connection is
//   then dropped (the replies of a stalled server can no longer be trusted to arrive in time),
//   every other command in flight on it fails with kDisconnected, and it reconnects;
// - kShutdown when the client is destroyed with the command in flight.
// Callbacks run on the connection's thread, or inline in the caller for the immediate failures;
// they must be short and may issue new commands.
//
// Connecting: TCP or unix socket, then AUTH (when the endpoint has a password), SELECT (when the
// database is not 0) and PING, pipelined; the connection serves only when all three succeeded,
// within `connect_timeout` of the attempt. A failed attempt or a lost connection retries after a
// backoff that starts at `backoff_min` and doubles up to `backoff_max`; a successful connection
// resets it.
//
// Thread-safety: Command may be called from any thread, concurrently. The destructor must not run
// concurrently with Command (the owner stops issuing commands first).
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
  // Fails every command in flight with kShutdown, closes the connections and joins the threads.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command, e.g. Command({"SET", key, value}, done). The arguments are binary-safe and
  // copied before the call returns.
  void Command(absl::Span<const std::string_view> args, ReplyCallback done);
  void Command(std::initializer_list<std::string_view> args, ReplyCallback done) {
    Command(absl::Span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }

  // Blocks until every connection serves, or `timeout` passed. For start-up and tests.
  [[nodiscard]] bool WaitConnected(absl::Duration timeout);

  // How many connections serve now, of connection_count().
  size_t ConnectedCount() const;
  size_t connection_count() const { return connections_.size(); }

 private:
  ClientOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::atomic<size_t> next_{0};
};

// The RESP encoding of a command (an array of bulk strings), as hiredis would write it.
std::string FormatCommand(absl::Span<const std::string_view> args);

}  // namespace rendezvous::redis

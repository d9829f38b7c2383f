// Connection: one Redis connection, the io_context it runs on, and its lifecycle (connect,
// handshake, reconnect, drain, stop). The Asio adapter that drives hiredis is hiredis_asio.h.
//
// Internal to the redis library (Client is the interface; this header includes Asio, so nothing
// outside src/redis/ and its tests includes it).
//
// hiredis 0.14's async context does no I/O scheduling of its own: it asks, through the five hooks
// addRead/delRead/addWrite/delWrite/cleanup, to be told when its socket is readable or writable.
// A Link (hiredis_asio.h) is one hiredis context (one connection attempt) plus the
// stream_descriptor those hooks wait on. Ownership rules that the code below relies on:
// - the hiredis context owns the file descriptor: the cleanup hook releases it from the
//   descriptor (which cancels our waits) and hiredis closes it; it is never closed twice;
// - hiredis frees the context by itself inside redisAsyncHandleRead/Write when the server closes
//   the connection or the connect fails: every wait handler holds the Link by shared_ptr and
//   checks `ac` (nulled by the cleanup hook) after calling into hiredis;
// - we free a context ourselves only from a posted task, never inside a hiredis callback;
// - replies arrive in command order, so the commands in flight are a FIFO whose front is the
//   oldest: the one the deadline tick checks.
//
// A connection may instead serve one subscription (Subscriber): after the handshake it sends
// SUBSCRIBE, counts as connected once Redis confirms it, and hands every message of the channel
// to the subscription; it then takes no commands (hiredis 0.14 would pair a reply to a command
// sent in subscribed mode with the next push message).
//
// A connection either owns its io_context and a thread that runs it (Client's shared connections,
// the subscriber), or runs on an io_context that one other thread runs (a worker connection,
// Client::AttachWorkers): then commands are sent with SendHere on that thread, with no hand-off,
// and their callbacks run there too.
//
// Thread-safety: Send, Drain and connected() may be called from any thread; SendHere and
// ServesHere only on the thread that runs a worker connection's io_context; everything else runs
// on the connection's io_context. A worker connection is destroyed while no thread runs its
// io_context (which must outlive it).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/functional/any_invocable.h"
#include "redis/client.h"

struct redisAsyncContext;
struct redisReply;

namespace rendezvous::redis {

// What a subscriber connection listens to, and whom it tells. The callbacks run on the
// connection's thread, one at a time, and must be short.
struct Subscription {
  std::string channel;
  size_t max_message_bytes = 0;  // longer messages are dropped
  absl::AnyInvocable<void(std::string_view message)> on_message;
  // After each successful SUBSCRIBE: the first and every one after a reconnect. Messages published
  // while the connection was down are lost, which this tells.
  absl::AnyInvocable<void()> on_subscribed;
};

class Connection {
 public:
  // Starts the thread and the first connection attempt. With a `subscription` (which must outlive
  // the Connection) it is a subscriber connection and Send must not be called.
  explicit Connection(const ClientOptions& options, Subscription* subscription = nullptr);
  // A worker connection on `io`, which one thread runs; the first connection attempt starts when
  // it runs.
  Connection(const ClientOptions& options, boost::asio::io_context& io);
  // Fails what is in flight with kShutdown, frees the context, joins the thread (if its own).
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one RESP-formatted command (FormatCommand). See Client for the completion rules.
  void Send(std::string command, ReplyCallback done);

  // Worker connections, on the io_context's thread: whether SendHere may be called (connected and
  // not draining), and sending one command with no hand-off (kOverloaded inline at max_pending).
  bool ServesHere() const;
  void SendHere(std::string_view command, ReplyCallback done);
  // Worker connections: stops taking commands, and closes once the ones in flight completed (or
  // timed out), so that nothing of it keeps the io_context busy. Any thread.
  void Drain();

  bool connected() const { return ready_.load(std::memory_order_acquire); }

  // Adapter internals, public only for the C hook functions in hiredis_asio.cc.
  struct Link;
  using SteadyTime = std::chrono::steady_clock::time_point;
  // A command in flight: a user command, or a step of the connect handshake.
  struct Pending {
    absl::AnyInvocable<void(CommandError, const redisReply*)> done;
    SteadyTime deadline;
  };
  void OnReply(Link& link, const redisReply* reply);
  void OnConnected(Link& link, bool ok);
  void OnDisconnected(Link& link);
  // A reply on the subscription: its confirmation, a message, or null while hiredis frees it.
  void OnPush(Link& link, const redisReply* reply);

 private:
  void StartConnect();
  void StartHandshake(const std::shared_ptr<Link>& link);
  // The link serves: user commands may be sent (or the subscription is live).
  void MarkReady(const std::shared_ptr<Link>& link);
  // Fails the link's commands in flight and schedules a reconnect if it was the current link.
  // `free_context`: also free the hiredis context (from a posted task); false when hiredis is
  // freeing it already.
  void LinkDied(Link& link, CommandError error, bool free_context);
  void ScheduleReconnect();
  void Tick();
  [[nodiscard]] bool Enqueue(Link& link, std::string_view command, Pending pending);
  void Stop();
  // Draining and nothing in flight: stop (from a posted task, never inside a hiredis callback).
  void MaybeFinishDrain();
  // Posts `task` to the io_context; it does nothing once the Connection is gone (a worker
  // connection's io_context may outlive it with tasks still queued).
  void Post(absl::AnyInvocable<void()> task);

  const ClientOptions options_;
  Subscription* const subscription_;  // null for a command connection
  const std::chrono::nanoseconds connect_timeout_;
  const std::chrono::nanoseconds command_timeout_;
  const std::chrono::nanoseconds tick_period_;
  // Set for a connection with its own thread; null for a worker connection.
  const std::unique_ptr<boost::asio::io_context> own_io_;
  boost::asio::io_context& io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  // Expires with the Connection: tasks posted by Post check it.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer backoff_timer_;
  std::shared_ptr<Link> link_;  // the current attempt or connection; null while backing off
  std::chrono::nanoseconds backoff_;
  bool was_connected_ = false;  // for logging transitions, not every failed attempt
  std::string last_failure_;   // the last handshake failure logged
  bool stopping_ = false;
  bool draining_ = false;  // worker connections: Drain was called
  std::atomic<bool> ready_{false};
  std::atomic<size_t> in_flight_{0};  // user commands between Send and their callback
  std::thread thread_;
};

}  // namespace rendezvous::redis

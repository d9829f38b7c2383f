// Subscriber: one Redis connection subscribed to one pub/sub channel, with its own thread,
// reconnecting with the client's backoff.
//
// It connects as Client does (AUTH, SELECT, PING within `connect_timeout`), then SUBSCRIBEs; each
// confirmed subscription (the first, and every one after a reconnect) calls `on_subscribed`, and
// each message on the channel calls `on_message` with its payload. Redis does not keep messages
// for a subscriber that is away, so whatever was published while the connection was down is lost:
// `on_subscribed` is where the owner makes up for that. A dead peer is noticed when the socket
// closes, or by TCP keepalive (about half a minute) when it vanishes silently.
//
// Bounded: messages are handed over one at a time on the subscriber's thread as hiredis parses
// them, with no queue of our own; a message longer than `max_message_bytes` is dropped. Redis
// bounds what it buffers for a slow subscriber (client-output-buffer-limit pubsub) and closes the
// connection past it, which ends in a reconnect and `on_subscribed`.
//
// Thread-safety: the callbacks run on the subscriber's thread, one at a time, never concurrently
// with each other; they must be short. subscribed() and WaitSubscribed may be called from any
// thread. The destructor joins the thread: no callback runs after it returns.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace rendezvous::redis {

struct SubscriberOptions {
  ClientOptions client;  // endpoint, connect_timeout and backoff (connections is ignored)
  std::string channel;
  size_t max_message_bytes = 4096;
};

struct Subscription;

class Subscriber {
 public:
  Subscriber(SubscriberOptions options, absl::AnyInvocable<void(std::string_view)> on_message,
             absl::AnyInvocable<void()> on_subscribed);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Whether the subscription is live now.
  bool subscribed() const;
  // Blocks until the subscription is live, or `timeout` passed. For start-up and tests.
  [[nodiscard]] bool WaitSubscribed(absl::Duration timeout);

 private:
  std::unique_ptr<Subscription> subscription_;
  std::unique_ptr<Connection> connection_;  // declared last: stopped first
};

}  // namespace rendezvous::redis

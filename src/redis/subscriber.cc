// Subscriber (subscriber.h): a Connection in subscriber mode.
#include "redis/subscriber.h"

#include <chrono>
#include <thread>
#include <utility>

#include "redis/connection.h"

namespace rendezvous::redis {

Subscriber::Subscriber(SubscriberOptions options,
                       absl::AnyInvocable<void(std::string_view)> on_message,
                       absl::AnyInvocable<void()> on_subscribed)
    : subscription_(std::make_unique<Subscription>(
          Subscription{std::move(options.channel), options.max_message_bytes, std::move(on_message),
                       std::move(on_subscribed)})),
      connection_(std::make_unique<Connection>(options.client, subscription_.get())) {}

Subscriber::~Subscriber() = default;

bool Subscriber::subscribed() const { return connection_->connected(); }

bool Subscriber::WaitSubscribed(absl::Duration timeout) {
  // Start-up only: polling a flag every few milliseconds costs nothing there.
  auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (!subscribed()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace rendezvous::redis

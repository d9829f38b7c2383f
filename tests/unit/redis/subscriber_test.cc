// The subscriber against a real redis-server: messages in order, bounds, and resubscription.
#include "redis/subscriber.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis_server_process.h"

namespace rendezvous::redis {
namespace {

// What the subscriber handed over, from its thread.
class Heard {
 public:
  absl::AnyInvocable<void(std::string_view)> OnMessage() {
    return [this](std::string_view message) {
      std::lock_guard lock(mu_);
      messages_.emplace_back(message);
      cv_.notify_all();
    };
  }
  absl::AnyInvocable<void()> OnSubscribed() {
    return [this] {
      std::lock_guard lock(mu_);
      ++subscribed_;
      cv_.notify_all();
    };
  }
  // Wait (bounded) until at least `n` messages / subscriptions; return what was seen.
  std::vector<std::string> WaitForMessages(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return messages_.size() >= n; });
    return messages_;
  }
  int WaitForSubscriptions(int n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return subscribed_ >= n; });
    return subscribed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  int subscribed_ = 0;
};

ClientOptions Options(const RedisServerProcess& server) {
  ClientOptions options;
  EXPECT_EQ(ParseUrl(server.Url(), &options.endpoint), UrlError::kOk);
  options.connect_timeout = absl::Milliseconds(500);
  options.backoff_min = absl::Milliseconds(10);
  options.backoff_max = absl::Milliseconds(100);
  return options;
}

// PUBLISH through a command client; returns how many subscribers received it.
int64_t Publish(Client& client, std::string_view channel, std::string_view message) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int64_t receivers = -1;
  client.Command({"PUBLISH", channel, message}, [&](CommandError error, const Reply& reply) {
    std::lock_guard lock(mu);
    if (error == CommandError::kOk) receivers = reply.integer;
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; });
  return receivers;
}

class SubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = RedisServerProcess::Start({}, &error);
    ASSERT_NE(server_, nullptr) << error;
    publisher_ = std::make_unique<Client>(Options(*server_));
    ASSERT_TRUE(publisher_->WaitConnected(absl::Seconds(10)));
  }

  std::unique_ptr<Subscriber> Subscribe(Heard& heard, size_t max_message_bytes = 16) {
    SubscriberOptions options;
    options.client = Options(*server_);
    options.channel = "news";
    options.max_message_bytes = max_message_bytes;
    auto subscriber =
        std::make_unique<Subscriber>(std::move(options), heard.OnMessage(), heard.OnSubscribed());
    EXPECT_TRUE(subscriber->WaitSubscribed(absl::Seconds(10)));
    return subscriber;
  }

  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<Client> publisher_;
};

TEST_F(SubscriberTest, MessagesOfItsChannelArriveInOrderBinarySafe) {
  Heard heard;
  auto subscriber = Subscribe(heard);
  EXPECT_EQ(heard.WaitForSubscriptions(1), 1);
  const std::string binary("a\0b\r\n c", 7);
  EXPECT_EQ(Publish(*publisher_, "news", "1"), 1);
  EXPECT_EQ(Publish(*publisher_, "other", "not ours"), 0);
  EXPECT_EQ(Publish(*publisher_, "news", binary), 1);
  EXPECT_EQ(Publish(*publisher_, "news", "3"), 1);
  EXPECT_EQ(heard.WaitForMessages(3), (std::vector<std::string>{"1", binary, "3"}));
}

TEST_F(SubscriberTest, AMessageOverTheBoundIsDropped) {
  Heard heard;
  auto subscriber = Subscribe(heard, /*max_message_bytes=*/4);
  EXPECT_EQ(Publish(*publisher_, "news", "12345"), 1);
  EXPECT_EQ(Publish(*publisher_, "news", "1234"), 1);
  EXPECT_EQ(heard.WaitForMessages(1), (std::vector<std::string>{"1234"}));
}

TEST_F(SubscriberTest, ResubscribesAfterTheServerIsKilledAndRestartedAndSaysSo) {
  Heard heard;
  auto subscriber = Subscribe(heard);
  ASSERT_EQ(heard.WaitForSubscriptions(1), 1);
  server_->Kill();
  // The subscriber notices the closed socket on its own.
  for (int i = 0; i < 2000 && subscriber->subscribed(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(subscriber->subscribed());
  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  ASSERT_TRUE(subscriber->WaitSubscribed(absl::Seconds(10)));
  EXPECT_EQ(heard.WaitForSubscriptions(2), 2);  // told, so that the owner can make up for the gap
  ASSERT_TRUE(publisher_->WaitConnected(absl::Seconds(10)));
  EXPECT_EQ(Publish(*publisher_, "news", "back"), 1);
  EXPECT_EQ(heard.WaitForMessages(1), (std::vector<std::string>{"back"}));
}

TEST_F(SubscriberTest, NeverSubscribesWithAWrongPasswordAndDestroysPromptly) {
  Heard heard;
  SubscriberOptions options;
  options.client = Options(*server_);
  options.client.endpoint.password = "wrong";
  options.channel = "news";
  Subscriber subscriber(std::move(options), heard.OnMessage(), heard.OnSubscribed());
  EXPECT_FALSE(subscriber.WaitSubscribed(absl::Milliseconds(300)));
}

}  // namespace
}  // namespace rendezvous::redis

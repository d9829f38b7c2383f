// The Redis client against a real redis-server: replies, pipelining, deadlines, reconnection.
#include "redis/client.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "redis_server_process.h"

namespace rendezvous::redis {
namespace {

// What one command came back with.
struct Outcome {
  CommandError error = CommandError::kShutdown;
  Reply reply;
};

// Collects the completions of many commands; Wait returns them in issue order.
class Completions {
 public:
  ReplyCallback Slot() {
    std::lock_guard lock(mu_);
    size_t index = outcomes_.size();
    outcomes_.emplace_back();
    done_.push_back(false);
    return [this, index](CommandError error, const Reply& reply) {
      std::lock_guard lock(mu_);
      outcomes_[index] = Outcome{error, reply};
      done_[index] = true;
      ++completed_;
      cv_.notify_all();
    };
  }
  // Waits until every slot completed or `timeout` passed (then fails the test).
  std::vector<Outcome> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    bool all = cv_.wait_for(lock, timeout, [this] { return completed_ == outcomes_.size(); });
    EXPECT_TRUE(all) << completed_ << " of " << outcomes_.size() << " commands completed";
    return outcomes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Outcome> outcomes_;
  std::vector<bool> done_;
  size_t completed_ = 0;
};

}  // namespace

void PrintTo(CommandError error, std::ostream* os) { *os << CommandErrorText(error); }

namespace {

Outcome Call(Client& client, std::initializer_list<std::string_view> args) {
  Completions completions;
  client.Command(args, completions.Slot());
  return completions.Wait()[0];
}

ClientOptions Options(const std::string& url) {
  ClientOptions options;
  EXPECT_EQ(ParseUrl(url, &options.endpoint), UrlError::kOk) << url;
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Milliseconds(300);
  options.backoff_min = absl::Milliseconds(10);
  options.backoff_max = absl::Milliseconds(100);
  return options;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> args) {
    std::string error;
    server_ = RedisServerProcess::Start(std::move(args), &error);
    ASSERT_NE(server_, nullptr) << error;
  }

  std::unique_ptr<Client> Connect(ClientOptions options) {
    auto client = std::make_unique<Client>(std::move(options));
    EXPECT_TRUE(client->WaitConnected(absl::Seconds(10)));
    return client;
  }

  std::unique_ptr<RedisServerProcess> server_;
};

TEST_F(RedisClientTest, RepliesOfEveryTypeComeBackBinarySafe) {
  auto client = Connect(Options(server_->Url()));
  const std::string binary("a\0b\r\nc", 6);
  Outcome set = Call(*client, {"SET", "k", binary});
  ASSERT_EQ(set.error, CommandError::kOk);
  EXPECT_TRUE(set.reply.IsStatus("OK"));

  Outcome get = Call(*client, {"GET", "k"});
  ASSERT_EQ(get.error, CommandError::kOk);
  EXPECT_EQ(get.reply.type, Reply::Type::kString);
  EXPECT_EQ(get.reply.str, binary);

  Outcome missing = Call(*client, {"GET", "nothing"});
  EXPECT_EQ(missing.reply.type, Reply::Type::kNil);

  Outcome incr = Call(*client, {"INCRBY", "n", "41"});
  EXPECT_EQ(incr.reply.type, Reply::Type::kInteger);
  EXPECT_EQ(incr.reply.integer, 41);

  Outcome array = Call(*client, {"MGET", "k", "nothing", "n"});
  ASSERT_EQ(array.reply.type, Reply::Type::kArray);
  ASSERT_EQ(array.reply.elements.size(), 3u);
  EXPECT_EQ(array.reply.elements[0].str, binary);
  EXPECT_EQ(array.reply.elements[1].type, Reply::Type::kNil);
  EXPECT_EQ(array.reply.elements[2].str, "41");

  Outcome error = Call(*client, {"INCR", "k"});
  EXPECT_EQ(error.error, CommandError::kOk);  // a Redis error is a reply, not a failure
  EXPECT_TRUE(error.reply.IsError());
  EXPECT_NE(error.reply.str.find("not an integer"), std::string::npos) << error.reply.str;
}

TEST_F(RedisClientTest, ManyPipelinedCommandsCompleteInOrder) {
  constexpr int kCommands = 20000;
  ClientOptions options = Options(server_->Url());
  options.max_pending = kCommands;
  // Order, not speed, is under test: 20 MB of replies under a sanitizer on a busy CI machine may
  // take longer than the short deadline the other tests use.
  options.command_timeout = absl::Seconds(30);
  auto client = Connect(options);
  // Large values too, so that replies span many socket reads.
  const std::string big(10000, 'x');
  ASSERT_EQ(Call(*client, {"SET", "big", big}).error, CommandError::kOk);
  Completions completions;
  for (int i = 0; i < kCommands; ++i) {
    if (i % 10 == 0) {
      client->Command({"GET", "big"}, completions.Slot());
    } else {
      client->Command({"INCR", "counter"}, completions.Slot());
    }
  }
  std::vector<Outcome> outcomes = completions.Wait();
  int64_t expected = 0;
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_EQ(outcomes[i].error, CommandError::kOk) << i;
    if (i % 10 == 0) {
      ASSERT_EQ(outcomes[i].reply.str.size(), big.size()) << i;
    } else {
      ASSERT_EQ(outcomes[i].reply.integer, ++expected) << i;
    }
  }
}

TEST_F(RedisClientTest, SeveralConnectionsShareTheWork) {
  ClientOptions options = Options(server_->Url());
  options.connections = 3;
  auto client = Connect(options);
  EXPECT_EQ(client->ConnectedCount(), 3u);
  Completions completions;
  for (int i = 0; i < 300; ++i) client->Command({"INCR", "c"}, completions.Slot());
  for (const Outcome& outcome : completions.Wait()) EXPECT_EQ(outcome.error, CommandError::kOk);
  EXPECT_EQ(Call(*client, {"GET", "c"}).reply.str, "300");
}

TEST_F(RedisClientTest, StoppedServerFailsEveryCommandWithinTheDeadlineThenServiceResumes) {
  auto client = Connect(Options(server_->Url()));
  server_->Pause();
  Completions completions;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) client->Command({"PING"}, completions.Slot());
  // Deadline 300 ms, checked every 75 ms: all fail well within 2 s, none hangs.
  std::vector<Outcome> outcomes = completions.Wait(std::chrono::seconds(2));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  int timeouts = 0;
  for (const Outcome& outcome : outcomes) {
    EXPECT_TRUE(outcome.error == CommandError::kTimeout ||
                outcome.error == CommandError::kDisconnected)
        << CommandErrorText(outcome.error);
    timeouts += outcome.error == CommandError::kTimeout;
  }
  EXPECT_GE(timeouts, 1);
  // While the server is stopped, new commands fail at once instead of queueing.
  Outcome refused = Call(*client, {"PING"});
  EXPECT_EQ(refused.error, CommandError::kDisconnected);

  server_->Resume();
  ASSERT_TRUE(client->WaitConnected(absl::Seconds(10)));
  Outcome again = Call(*client, {"PING"});
  EXPECT_EQ(again.error, CommandError::kOk);
  EXPECT_TRUE(again.reply.IsStatus("PONG"));
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerIsKilledAndRestarted) {
  auto client = Connect(Options(server_->Url()));
  ASSERT_EQ(Call(*client, {"SET", "a", "1"}).error, CommandError::kOk);
  server_->Kill();
  Outcome down;
  // The client notices the closed socket on its own; then commands fail at once.
  for (int i = 0; i < 1000 && client->ConnectedCount() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  down = Call(*client, {"PING"});
  EXPECT_EQ(down.error, CommandError::kDisconnected);

  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  ASSERT_TRUE(client->WaitConnected(absl::Seconds(10)));
  Outcome up = Call(*client, {"SET", "a", "2"});
  EXPECT_EQ(up.error, CommandError::kOk);
}

TEST_F(RedisClientTest, CommandsFailAtOnceWhenRedisWasNeverReachable) {
  std::string url = server_->Url();
  server_->Kill();
  Client client(Options(url));
  EXPECT_FALSE(client.WaitConnected(absl::Milliseconds(200)));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Call(client, {"PING"}).error, CommandError::kDisconnected);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST_F(RedisClientTest, InFlightCommandsAreBoundedPerConnection) {
  ClientOptions options = Options(server_->Url());
  options.max_pending = 4;
  options.command_timeout = absl::Seconds(5);
  auto client = Connect(options);
  server_->Pause();
  Completions completions;
  for (int i = 0; i < 10; ++i) client->Command({"PING"}, completions.Slot());
  server_->Resume();
  int overloaded = 0;
  int ok = 0;
  for (const Outcome& outcome : completions.Wait()) {
    overloaded += outcome.error == CommandError::kOverloaded;
    ok += outcome.error == CommandError::kOk;
  }
  EXPECT_EQ(overloaded, 6);
  EXPECT_EQ(ok, 4);
}

TEST_F(RedisClientTest, DestroyingTheClientFailsWhatIsInFlight) {
  ClientOptions options = Options(server_->Url());
  options.command_timeout = absl::Seconds(30);
  auto client = Connect(options);
  server_->Pause();
  Completions completions;
  for (int i = 0; i < 5; ++i) client->Command({"PING"}, completions.Slot());
  client.reset();
  for (const Outcome& outcome : completions.Wait(std::chrono::seconds(1))) {
    EXPECT_EQ(outcome.error, CommandError::kShutdown);
  }
  server_->Resume();
}

TEST_F(RedisClientTest, SelectsTheDatabaseOfTheUrl) {
  auto db3 = Connect(Options(server_->Url("/3")));
  ASSERT_EQ(Call(*db3, {"SET", "only-in-3", "x"}).error, CommandError::kOk);
  auto db0 = Connect(Options(server_->Url("/0")));
  EXPECT_EQ(Call(*db0, {"EXISTS", "only-in-3"}).reply.integer, 0);
  EXPECT_EQ(Call(*db3, {"EXISTS", "only-in-3"}).reply.integer, 1);
}

TEST_F(RedisClientTest, ConnectsThroughAUnixSocket) {
  auto client = Connect(Options(absl::StrCat("unix://", server_->socket_path(), "?db=1")));
  EXPECT_TRUE(Call(*client, {"PING"}).reply.IsStatus("PONG"));
}

class RedisClientAuthTest : public RedisClientTest {
 protected:
  void SetUp() override { StartServer({"--requirepass", "s3cret"}); }
};

TEST_F(RedisClientAuthTest, AuthenticatesWithThePasswordOfTheUrl) {
  auto client = Connect(Options(absl::StrCat("redis://:s3cret@127.0.0.1:", server_->port(), "/2")));
  EXPECT_TRUE(Call(*client, {"PING"}).reply.IsStatus("PONG"));
}

TEST_F(RedisClientAuthTest, AWrongPasswordNeverServes) {
  Client client(Options(absl::StrCat("redis://:wrong@127.0.0.1:", server_->port())));
  EXPECT_FALSE(client.WaitConnected(absl::Milliseconds(500)));
  EXPECT_EQ(Call(client, {"PING"}).error, CommandError::kDisconnected);
  Client anonymous(Options(server_->Url()));
  EXPECT_FALSE(anonymous.WaitConnected(absl::Milliseconds(300)));
}

}  // namespace
}  // namespace rendezvous::redis

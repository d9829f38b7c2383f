// The Redis client's worker connections (Client::AttachWorkers) against a real redis-server: a
// worker thread's commands stay on that thread; draining lets the io_context run out of work;
// every destruction order the server's shutdown can produce is safe.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis_server_process.h"

namespace rendezvous::redis {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

// An HTTP worker's stand-in: an io_context run by one thread.
class Worker {
 public:
  Worker() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~Worker() { Join(); }

  asio::io_context& io() { return io_; }
  std::thread::id id() const { return thread_.get_id(); }
  // Runs `task` on the worker's thread and waits for it to return.
  void RunHere(std::function<void()> task) {
    std::promise<void> ran;
    asio::post(io_, [&] {
      task();
      ran.set_value();
    });
    ASSERT_EQ(ran.get_future().wait_for(seconds(10)), std::future_status::ready);
  }
  // Lets run() return once nothing is left to do (no stop: pending work keeps it running).
  void ReleaseWork() { work_.reset(); }
  void Stop() {
    io_.stop();
    Join();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

// A command's outcome, and the thread its callback ran on.
struct Done {
  CommandError error = CommandError::kShutdown;
  Reply reply;
  std::thread::id thread;
};

class Waiter {
 public:
  ReplyCallback Callback() {
    return [this](CommandError error, const Reply& reply) {
      promise_.set_value(Done{error, reply, std::this_thread::get_id()});
    };
  }
  Done Wait() {
    auto future = promise_.get_future();
    EXPECT_EQ(future.wait_for(seconds(10)), std::future_status::ready);
    return future.get();
  }

 private:
  std::promise<Done> promise_;
};

ClientOptions Options(const std::string& url) {
  ClientOptions options;
  EXPECT_EQ(ParseUrl(url, &options.endpoint), UrlError::kOk) << url;
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Seconds(5);
  options.backoff_min = absl::Milliseconds(10);
  options.backoff_max = absl::Milliseconds(100);
  return options;
}

class RedisWorkerConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = RedisServerProcess::Start({}, &error);
    ASSERT_NE(server_, nullptr) << error;
  }

  // Issues one command on the worker's thread and waits for its completion.
  static Done CallOn(Worker& worker, Client& client, std::initializer_list<std::string_view> args) {
    Waiter waiter;
    std::vector<std::string_view> copy(args);
    worker.RunHere([&] { client.Command(copy, waiter.Callback()); });
    return waiter.Wait();
  }

  std::unique_ptr<RedisServerProcess> server_;
};

TEST_F(RedisWorkerConnectionTest, ACommandIssuedOnAWorkerCompletesOnThatThreadOnItsOwnConnection) {
  Worker worker;
  Client client(Options(server_->Url()));
  asio::io_context* ios[] = {&worker.io()};
  client.AttachWorkers(ios);
  ASSERT_TRUE(client.WaitConnected(absl::Seconds(10)));
  ASSERT_EQ(client.worker_connection_count(), 1u);

  // CLIENT ID names the Redis connection that carried the command.
  Done first = CallOn(worker, client, {"CLIENT", "ID"});
  ASSERT_EQ(first.error, CommandError::kOk);
  ASSERT_EQ(first.reply.type, Reply::Type::kInteger);
  EXPECT_EQ(first.thread, worker.id());  // no other thread ran the callback
  Done second = CallOn(worker, client, {"CLIENT", "ID"});
  EXPECT_EQ(second.thread, worker.id());
  EXPECT_EQ(second.reply.integer, first.reply.integer);

  // From any other thread: the shared connection, with its own thread.
  Waiter shared;
  client.Command({"CLIENT", "ID"}, shared.Callback());
  Done elsewhere = shared.Wait();
  ASSERT_EQ(elsewhere.error, CommandError::kOk);
  EXPECT_NE(elsewhere.reply.integer, first.reply.integer);
  EXPECT_NE(elsewhere.thread, worker.id());
  EXPECT_NE(elsewhere.thread, std::this_thread::get_id());

  // SharedCommand never uses the worker's connection, even on the worker's thread.
  Waiter forced;
  worker.RunHere([&] { client.SharedCommand({"CLIENT", "ID"}, forced.Callback()); });
  Done on_shared = forced.Wait();
  EXPECT_EQ(on_shared.reply.integer, elsewhere.reply.integer);
  EXPECT_NE(on_shared.thread, worker.id());

  worker.Stop();
}

TEST_F(RedisWorkerConnectionTest, PipelinedCommandsOfAWorkerCompleteInOrderOnItsThread) {
  Worker worker;
  Client client(Options(server_->Url()));
  asio::io_context* ios[] = {&worker.io()};
  client.AttachWorkers(ios);
  ASSERT_TRUE(client.WaitConnected(absl::Seconds(10)));
  constexpr int kCommands = 1000;
  std::vector<int64_t> values;
  std::vector<std::thread::id> threads;
  std::promise<void> all;
  worker.RunHere([&] {
    for (int i = 0; i < kCommands; ++i) {
      client.Command({"INCR", "counter"}, [&](CommandError error, const Reply& reply) {
        values.push_back(error == CommandError::kOk ? reply.integer : -1);
        threads.push_back(std::this_thread::get_id());
        if (values.size() == kCommands) all.set_value();
      });
    }
  });
  ASSERT_EQ(all.get_future().wait_for(seconds(10)), std::future_status::ready);
  for (int i = 0; i < kCommands; ++i) {
    EXPECT_EQ(values[i], i + 1);
    EXPECT_EQ(threads[i], worker.id());
  }
  worker.Stop();
}

TEST_F(RedisWorkerConnectionTest, DrainingCompletesWhatIsInFlightThenFreesTheIoContext) {
  auto worker = std::make_unique<Worker>();
  Client client(Options(server_->Url()));
  asio::io_context* ios[] = {&worker->io()};
  client.AttachWorkers(ios);
  ASSERT_TRUE(client.WaitConnected(absl::Seconds(10)));
  Done before = CallOn(*worker, client, {"CLIENT", "ID"});

  constexpr int kCommands = 100;
  std::vector<CommandError> errors;
  std::promise<void> all;
  worker->RunHere([&] {
    for (int i = 0; i < kCommands; ++i) {
      client.Command({"INCR", "n"}, [&](CommandError error, const Reply&) {
        errors.push_back(error);
        if (errors.size() == kCommands) all.set_value();
      });
    }
    client.DrainWorkers();  // its task runs after this one: these 100 are in flight
  });
  ASSERT_EQ(all.get_future().wait_for(seconds(10)), std::future_status::ready);
  for (CommandError error : errors) EXPECT_EQ(error, CommandError::kOk);

  // Drained: the worker's commands use the shared connection, and its io_context has no work left.
  Done drained = CallOn(*worker, client, {"CLIENT", "ID"});
  EXPECT_EQ(drained.error, CommandError::kOk);
  EXPECT_NE(drained.reply.integer, before.reply.integer);
  EXPECT_NE(drained.thread, worker->id());
  std::promise<void> returned;
  std::thread waiter([&] {
    worker->Join();
    returned.set_value();
  });
  worker->ReleaseWork();
  EXPECT_EQ(returned.get_future().wait_for(seconds(10)), std::future_status::ready)
      << "the drained connection still keeps the worker's io_context busy";
  worker->io().stop();  // only if the check above failed: ends the test instead of hanging
  waiter.join();
}

TEST_F(RedisWorkerConnectionTest, DestroyingTheClientAfterTheWorkerStoppedFailsWhatIsInFlight) {
  // The server's order: the workers' threads stop (commands may still be in flight), the store
  // and its client go, the io_contexts last; nothing queued on them may touch the client after.
  Worker worker;
  auto client = std::make_unique<Client>(Options(server_->Url()));
  asio::io_context* ios[] = {&worker.io()};
  client->AttachWorkers(ios);
  ASSERT_TRUE(client->WaitConnected(absl::Seconds(10)));
  server_->Pause();  // nothing answers: the commands stay in flight
  std::vector<std::pair<CommandError, std::thread::id>> outcomes;
  worker.RunHere([&] {
    for (int i = 0; i < 5; ++i) {
      client->Command({"PING"}, [&](CommandError error, const Reply&) {
        outcomes.emplace_back(error, std::this_thread::get_id());
      });
    }
  });
  worker.Stop();
  EXPECT_TRUE(outcomes.empty());
  client.reset();
  ASSERT_EQ(outcomes.size(), 5u);
  for (const auto& [error, thread] : outcomes) {
    EXPECT_EQ(error, CommandError::kShutdown);
    EXPECT_EQ(thread, std::this_thread::get_id());
  }
  // Tasks the connection left queued run (or are destroyed) after it is gone: harmless.
  worker.io().restart();
  worker.io().poll();
  server_->Resume();
}

TEST_F(RedisWorkerConnectionTest, DetachingBeforeTheIoContextRanLeavesNothingBehind) {
  auto io = std::make_unique<asio::io_context>(1);
  Client client(Options(server_->Url()));
  ASSERT_TRUE(client.WaitConnected(absl::Seconds(10)));
  asio::io_context* ios[] = {io.get()};
  client.AttachWorkers(ios);
  client.DetachWorkers();
  EXPECT_EQ(client.worker_connection_count(), 0u);
  // The attachment's queued tasks run on this thread now: they must neither connect nor bind it.
  io->poll();
  Done done;
  Waiter waiter;
  client.Command({"PING"}, waiter.Callback());
  done = waiter.Wait();
  EXPECT_EQ(done.error, CommandError::kOk);
  EXPECT_NE(done.thread, std::this_thread::get_id());
  io.reset();
}

TEST(RedisWorkerConnectionDnsTest, AHostNameEndpointGetsNoWorkerConnections) {
  // Its connection attempts would block the worker's thread on DNS.
  asio::io_context io(1);
  Client client(Options("redis://redis.example.invalid:6379"));
  asio::io_context* ios[] = {&io};
  client.AttachWorkers(ios);
  EXPECT_EQ(client.worker_connection_count(), 0u);
  EXPECT_EQ(io.poll(), 0u);  // nothing was posted to the worker either
}

}  // namespace
}  // namespace rendezvous::redis

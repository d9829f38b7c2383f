// The store deadline through the real request path: net::Connection -> the public http::Router ->
// http::Handler -> a kv::Store that answers late or never. The connection must answer 503 with
// Retry-After when the store does not answer in time, keep serving, and survive the store's late
// answer (run under ASan: the late callback writes only into the call the connection gave up).
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/public_routes.h"
#include "http/router.h"
#include "kv/store.h"
#include "net/connection.h"
#include "ratelimit/limiter.h"

namespace rendezvous::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Keeps every callback; the test decides when (and whether) the store answers.
class SilentStore final : public kv::Store {
 public:
  void Get(std::string_view key, absl::Time now, kv::GetCallback done) override {
    gets.push_back(std::move(done));
  }
  void Put(const kv::PutRequest& request, kv::WriteCallback done) override {
    puts.push_back(std::move(done));
  }
  void Delete(const kv::DeleteRequest& request, kv::WriteCallback done) override {
    puts.push_back(std::move(done));
  }
  size_t SweepExpired(absl::Time now) override { return 0; }
  kv::Status Flush() override { return kv::Status::kOk; }
  size_t Size() const override { return 0; }
  void SetChangeListener(kv::ChangeListener listener) override {}

  // Every kv::Store answers each call exactly once, late or not (an engine fails its pending
  // calls when it stops). The calls the test left unanswered get that late failure here.
  void AnswerTheRestUnavailable() {
    for (kv::GetCallback& done : gets) {
      if (done) std::exchange(done, nullptr)(kv::GetResult{.status = kv::Status::kUnavailable});
    }
    for (kv::WriteCallback& done : puts) {
      if (done) std::exchange(done, nullptr)(kv::WriteResult{.status = kv::Status::kUnavailable});
    }
  }

  std::vector<kv::GetCallback> gets;
  std::vector<kv::WriteCallback> puts;
};

// Runs a kept callback once (a store answers each call exactly once).
template <typename Callback, typename Result>
void Answer(Callback& done, const Result& result) {
  std::exchange(done, nullptr)(result);
}

class Host final : public ConnectionHost {
 public:
  void PostCompletion() override { ++posts; }
  std::string_view CurrentDate() override { return "Thu, 01 Jan 2026 00:00:00 GMT"; }
  int posts = 0;
};

class StoreDeadlineTest : public ::testing::Test {
 protected:
  StoreDeadlineTest()
      : limiter_({.capacity_tokens = 1000, .table_slots = 64}),
        page_(http::IndexPageOptions{}),
        handler_(HandlerOptions(), store_, limiter_, clock_),
        index_(page_, clock_),
        router_(http::PublicRoutes(index_), handler_, clock_, nullptr) {
    options_.store_timeout = absl::Seconds(10);
    connection_ = std::make_unique<Connection>(options_, router_, host_,
                                               common::IpAddress::FromV4(0x0a000001), now_ms_);
  }

  ~StoreDeadlineTest() override {
    connection_.reset();
    store_.AnswerTheRestUnavailable();  // frees the calls the connection gave up
  }

  static http::HandlerOptions HandlerOptions() {
    http::HandlerOptions options;
    options.warn_localhost = false;
    return options;
  }

  void Feed(std::string_view bytes) {
    while (!bytes.empty()) {
      ASSERT_TRUE(connection_->WantsRead());
      const boost::asio::mutable_buffer buffer = connection_->ReadBuffer();
      const size_t n = std::min(buffer.size(), bytes.size());
      std::memcpy(buffer.data(), bytes.data(), n);
      connection_->OnRead(n, now_ms_);
      bytes.remove_prefix(n);
    }
  }
  std::string Written() {
    std::string all;
    while (connection_->HasOutput()) {
      all.append(connection_->StartWrite(now_ms_));
      connection_->OnWriteDone(now_ms_);
    }
    return all;
  }
  void Tick(int64_t now_ms) {
    now_ms_ = now_ms;
    connection_->OnTick(now_ms_);
  }

  common::ManualClock clock_;
  SilentStore store_;
  ratelimit::Limiter limiter_;
  http::IndexPage page_;
  http::Handler handler_;
  http::IndexHandler index_;
  http::Router router_;
  ServerOptions options_;
  Host host_;
  int64_t now_ms_ = 5'000'000;
  std::unique_ptr<Connection> connection_;
};

TEST_F(StoreDeadlineTest, AGetTheStoreNeverAnswersIs503WithRetryAfterAtTheDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(store_.gets.size(), 1u);
  Tick(now_ms_ + 9'000);
  EXPECT_EQ(Written(), "");
  Tick(now_ms_ + 1'000);
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_THAT(out, HasSubstr("Retry-After: 1\r\n"));
  EXPECT_THAT(out, Not(HasSubstr("Connection: close")));
}

TEST_F(StoreDeadlineTest, AWriteAnsweredAfterTheDeadlineChangesNothingOnTheConnection) {
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
  ASSERT_EQ(store_.puts.size(), 1u);
  Tick(now_ms_ + 10'000);
  EXPECT_THAT(Written(), HasSubstr("503 Service Unavailable"));

  // The connection goes on with the next request while the first write is still in the store.
  Feed("GET /other HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(store_.gets.size(), 1u);
  kv::GetResult missing;  // kNotFound
  Answer(store_.gets[0], missing);
  ASSERT_EQ(host_.posts, 1);  // answered after Handle returned: posted to the connection's thread
  connection_->OnHandlerDone(now_ms_);
  EXPECT_THAT(Written(), HasSubstr("404 Not Found"));

  // The store's late answer to the first request lands in the abandoned call only.
  kv::WriteResult ok;
  ok.status = kv::Status::kOk;
  ok.version = 7;
  ok.expires_at = clock_.Now() + absl::Hours(1);
  Answer(store_.puts[0], ok);
  EXPECT_EQ(host_.posts, 1);  // nothing posted for the abandoned call
  EXPECT_EQ(Written(), "");
  EXPECT_EQ(connection_->state(), Connection::State::kIdle);
}

TEST_F(StoreDeadlineTest, AClientGoneWhileTheStoreIsSilentLeavesNothingForTheLateAnswer) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  connection_->Abort();
  EXPECT_TRUE(connection_->CanDestroy());
  connection_.reset();
  kv::GetResult late;
  late.status = kv::Status::kOk;
  late.entry.value = "v";
  late.entry.version = 1;
  late.entry.expires_at = clock_.Now() + absl::Hours(1);
  Answer(store_.gets[0], late);  // must touch only the abandoned call (ASan)
  EXPECT_EQ(host_.posts, 0);
}

TEST_F(StoreDeadlineTest, AStoreThatAnswersBeforeTheDeadlineIsServedNormally) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Tick(now_ms_ + 5'000);
  kv::GetResult found;
  found.status = kv::Status::kOk;
  found.entry.value = "value";
  found.entry.version = 3;
  found.entry.expires_at = clock_.Now() + absl::Hours(1);
  Answer(store_.gets[0], found);
  EXPECT_EQ(host_.posts, 1);  // a completion after Handle returned is posted to the thread
  connection_->OnHandlerDone(now_ms_);
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(out, HasSubstr("\r\n\r\nvalue"));
}

}  // namespace
}  // namespace rendezvous::net

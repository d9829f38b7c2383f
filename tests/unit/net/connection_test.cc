// net::Connection driven directly: bytes and a manual time in, the bytes it asks to write out.
#include "net/connection.h"

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/errors.h"

namespace rendezvous::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using State = Connection::State;

// Concatenates string views and numbers (absl::StrCat takes no std::string_view here).
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  auto add = [&out](const auto& part) {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(part)>>) {
      out += std::to_string(part);
    } else {
      out += std::string_view(part);
    }
  };
  (add(parts), ...);
  return out;
}

constexpr std::string_view kDate = "Thu, 01 Jan 2026 00:00:00 GMT";

class FakeHost final : public ConnectionHost {
 public:
  void PostCompletion() override { ++posts; }
  std::string_view CurrentDate() override { return kDate; }
  int64_t MonotonicNanos() override { return monotonic_nanos; }
  int posts = 0;
  int64_t monotonic_nanos = 0;  // 0: not measured
};

// Answers inline with "<method> <target> v<version> [<body>]", or, when `defer` is set, keeps the
// call for the test to complete (or never).
class StubHandler final : public http::RequestHandler {
 public:
  void Handle(const http::Request& request, http::Response& response, http::Done done) override {
    ++calls;
    versions.push_back(request.version);
    forwarded.push_back(Cat(request.forwarded_proto, "|", request.forwarded_host, "|",
                            request.forwarded));
    response.Reset();
    response.in_flight.done = std::move(done);
    response.content_type = http::ContentType::kTextPlain;
    response.body = Cat(request.method_text, " ", request.target, " v", request.version,
                                 " [", request.body, "]");
    if (cancellable) {
      response.in_flight.cancel = [this] { ++cancels; };
    }
    if (wait > absl::ZeroDuration()) {  // a long poll: expire answers "304" itself
      response.in_flight.wait = wait;
      response.in_flight.expire = [this] {
        ++expires;
        Complete("expired");
      };
    }
    pending = &response;
    if (!defer) Complete();
  }
  // Runs the kept call's completion, as a store thread would (the response is written first).
  void Complete(std::string_view body = "") {
    http::Response* response = pending;
    pending = nullptr;
    if (!body.empty()) response->body.assign(body);
    http::Done done = std::move(response->in_flight.done);
    done();
  }

  bool defer = false;
  bool cancellable = false;
  absl::Duration wait = absl::ZeroDuration();
  int expires = 0;
  int calls = 0;
  int cancels = 0;
  std::vector<int> versions;
  std::vector<std::string> forwarded;  // "proto|host|Forwarded" as each request carried them
  http::Response* pending = nullptr;
};

ServerOptions Options() {
  ServerOptions options;
  options.header_limit_bytes = 1024;
  options.max_target_bytes = 2048;
  options.body_limit_bytes = 100;
  return options;
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(Options()); }
  void Make(const ServerOptions& options) {
    options_ = options;
    connection_ = std::make_unique<Connection>(options_, handler_, host_,
                                               common::IpAddress::FromV4(0x0a000001), now_ms_);
  }

  // One read of `bytes` (in as many reads as the connection's room needs); what is left once the
  // connection stops reading for good (it answered and closes) is dropped.
  void Feed(std::string_view bytes) {
    while (!bytes.empty()) {
      if (connection_->state() == State::kClosing) return;
      ASSERT_TRUE(connection_->WantsRead()) << "state " << static_cast<int>(connection_->state());
      const boost::asio::mutable_buffer buffer = connection_->ReadBuffer();
      const size_t n = std::min(buffer.size(), bytes.size());
      std::memcpy(buffer.data(), bytes.data(), n);
      connection_->OnRead(n, now_ms_);
      bytes.remove_prefix(n);
    }
  }
  // Every write the connection asks for, completed at once; returns the bytes.
  std::string Written() {
    std::string all;
    while (connection_->HasOutput()) {
      all.append(connection_->StartWrite(now_ms_));
      ++writes_;
      connection_->OnWriteDone(now_ms_);
    }
    if (connection_->WantsShutdownSend()) connection_->OnShutdownSend();
    return all;
  }
  void Tick(int64_t now_ms) {
    now_ms_ = now_ms;
    connection_->OnTick(now_ms_);
  }

  ServerOptions options_;
  FakeHost host_;
  StubHandler handler_;
  int64_t now_ms_ = 1'000'000;
  int writes_ = 0;
  std::unique_ptr<Connection> connection_;
};

int CountOf(std::string_view text, std::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != text.npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(ConnectionTest, EveryRequestFedInPiecesOfEverySizeGetsTheSameAnswer) {
  const std::vector<std::string> requests = {
      "GET /key HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /key HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
      "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
      "\r\nGET /after-crlf HTTP/1.2\r\nHost: h\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
  };
  for (const std::string& request : requests) {
    Make(Options());
    Feed(request);
    const std::string whole = Written();
    ASSERT_THAT(whole, HasSubstr("200 OK")) << request;
    for (size_t piece = 1; piece < request.size(); ++piece) {
      Make(Options());
      std::string out;
      for (size_t at = 0; at < request.size(); at += piece) {
        Feed(std::string_view(request).substr(at, piece));
        out += Written();
      }
      EXPECT_EQ(out, whole) << "pieces of " << piece << " bytes: " << request;
    }
  }
}

TEST_F(ConnectionTest, ProxyHeadersAboutTheOriginArePassedOnOnlyFromATrustedPeer) {
  const std::string_view request =
      "GET / HTTP/1.1\r\nHost: backend\r\nX-Forwarded-Proto: https\r\n"
      "X-Forwarded-Host: kv.example:8443\r\nForwarded: proto=http\r\n"
      "X-Forwarded-Host: second\r\nForwarded: proto=https;host=kv.example\r\n\r\n";
  Feed(request);  // the peer, 10.0.0.1, is not a trusted proxy by default
  Written();
  ServerOptions trusting = Options();
  trusting.proxies.trusted.push_back(*common::CidrBlock::Parse("10.0.0.0/8"));
  Make(trusting);
  Feed(request);
  Written();
  Feed("GET / HTTP/1.1\r\nHost: backend\r\n\r\n");  // nothing left from the request before
  Written();
  EXPECT_THAT(handler_.forwarded,
              ElementsAre("||",
                          "https|kv.example:8443,second|proto=http,proto=https;host=kv.example",
                          "||"));
}

TEST_F(ConnectionTest, PipelinedRequestsAreAnsweredInOrderInOneWrite) {
  Feed(
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(handler_.calls, 3);
  const size_t one = out.find("GET /one");
  const size_t two = out.find("POST /two v11 [abc]");
  const size_t three = out.find("GET /three");
  ASSERT_NE(one, out.npos);
  ASSERT_NE(two, out.npos);
  ASSERT_NE(three, out.npos);
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, EmptyLinesBeforeARequestLineAreIgnored) {
  // A client that ends a POST body with an extra CRLF, then one that sends bare LFs.
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi\r\n");
  std::string out = Written();
  EXPECT_EQ(CountOf(out, "200 OK"), 1);
  EXPECT_EQ(connection_->state(), State::kIdle);  // an empty line starts no request
  Feed("\n\r\n\nGET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  out = Written();
  EXPECT_EQ(CountOf(out, "200 OK"), 1);
  EXPECT_THAT(out, Not(HasSubstr("400")));
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, EmptyLinesDoNotRestartTheIdleDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Written();
  Tick(now_ms_ + 30'000);
  Feed("\r\n");
  Tick(now_ms_ + 30'000);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, LaterHttp1MinorVersionsAreAnsweredAsHttp11) {
  Feed("GET /k HTTP/1.2\r\nHost: h\r\n\r\nGET /k HTTP/1.9\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_EQ(CountOf(out, "HTTP/1.1 200 OK"), 2);
  EXPECT_EQ(handler_.versions, (std::vector<int>{11, 11}));
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, OtherHttpMajorVersionsAreRefused) {
  for (std::string_view version : {"HTTP/2.0", "HTTP/0.9", "HTTP/3.1"}) {
    Make(Options());
    Feed(Cat("GET /k ", version, "\r\nHost: h\r\n\r\n"));
    EXPECT_THAT(Written(), HasSubstr("400 Bad Request")) << version;
    EXPECT_EQ(handler_.calls, 0);
  }
}

TEST_F(ConnectionTest, ATargetOverTheLimitIs414AndCloses) {
  Feed(Cat("GET /", std::string(100'000, 'a'), " HTTP/1.1\r\nHost: h\r\n\r\n"));
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 414 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(handler_.calls, 0);
  EXPECT_EQ(connection_->state(), State::kLingering);
}

TEST_F(ConnectionTest, ATargetJustOverTheLimitIs414EvenWhenTheLineEndsInTime) {
  Feed(Cat("GET /", std::string(options_.max_target_bytes, 'a'),
                    " HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("HTTP/1.1 414 "));
}

TEST_F(ConnectionTest, ATargetAtTheLimitIsServedBeyondTheHeaderLimit) {
  // max_target_bytes (2048) is above header_limit_bytes (1024): the target still fits.
  const std::string target = Cat("/", std::string(options_.max_target_bytes - 1, 'a'));
  Feed(Cat("GET ", target, " HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("200 OK"));
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ConnectionTest, HeaderFieldsOverTheLimitAre431) {
  Feed(Cat("GET /k HTTP/1.1\r\nHost: h\r\nX-Big: ", std::string(2000, 'b'), "\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("HTTP/1.1 431 "));
}

TEST_F(ConnectionTest, ANewConnectionThatNeverSpeaksClosesAtTheHeaderDeadline) {
  Tick(now_ms_ + 9'999);
  EXPECT_EQ(connection_->state(), State::kIdle);
  Tick(now_ms_ + 1);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, AStalledHeaderIsAnswered408AtTheHeaderDeadline) {
  const int64_t start = now_ms_;
  Feed("GET /k HTTP/1.1\r\nHo");
  Tick(start + 9'999);
  EXPECT_EQ(Written(), "");
  Tick(start + 10'000);
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 408 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(connection_->state(), State::kLingering);
}

TEST_F(ConnectionTest, AStalledBodyIsAnswered408AtTheBodyDeadline) {
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(connection_->state(), State::kReadingBody);
  const int64_t header_done = now_ms_;
  Tick(header_done + 9'999);
  EXPECT_EQ(Written(), "");
  Tick(header_done + 10'000);
  EXPECT_THAT(Written(), HasSubstr("HTTP/1.1 408 "));
  EXPECT_EQ(handler_.calls, 0);
}

TEST_F(ConnectionTest, AnIdleKeepAliveConnectionClosesAtTheIdleDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Written();
  const int64_t answered = now_ms_;
  Tick(answered + 59'999);
  EXPECT_EQ(connection_->state(), State::kIdle);
  Tick(answered + 60'000);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, AWriteTheClientDoesNotReadClosesAtTheWriteDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(connection_->HasOutput());
  const int64_t started = now_ms_;
  connection_->StartWrite(started);
  Tick(started + 9'999);
  EXPECT_NE(connection_->state(), State::kClosed);
  Tick(started + 10'000);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, TheLastResponseIsFollowedByALingerUntilEofOrTheLingerDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(connection_->state(), State::kClosing);
  EXPECT_FALSE(connection_->WantsRead());
  ASSERT_TRUE(connection_->HasOutput());
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_EQ(connection_->state(), State::kLingering);
  EXPECT_TRUE(connection_->WantsShutdownSend());
  connection_->OnShutdownSend();
  EXPECT_TRUE(connection_->WantsRead());
  Feed("leftovers are dropped");
  EXPECT_FALSE(connection_->HasOutput());
  const int64_t written = now_ms_;
  Tick(written + 1'999);
  EXPECT_EQ(connection_->state(), State::kLingering);
  Tick(written + 2'000);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, AClientThatAskedToCloseAndSentNothingMoreMayBeClosedAtOnce) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_EQ(connection_->state(), State::kLingering);
  EXPECT_TRUE(connection_->ClientSendsNoMore());
}

TEST_F(ConnectionTest, AnHttp10RequestWithoutKeepAliveMayBeClosedAtOnce) {
  Feed("GET /k HTTP/1.0\r\n\r\n");
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_TRUE(connection_->ClientSendsNoMore());
}

TEST_F(ConnectionTest, BytesAfterACloseRequestKeepTheLinger) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /more HTTP/1.1\r\n");
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_EQ(connection_->state(), State::kLingering);
  EXPECT_FALSE(connection_->ClientSendsNoMore());
}

TEST_F(ConnectionTest, AServerDecidedCloseKeepsTheLinger) {
  // A keep-alive client whose body is refused may still be sending it.
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
  EXPECT_EQ(connection_->state(), State::kClosing);
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_FALSE(connection_->ClientSendsNoMore());
  // So does a protocol error, even on a request that said Connection: close.
  Make(Options());
  Feed("GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n");
  connection_->StartWrite(now_ms_);
  connection_->OnWriteDone(now_ms_);
  EXPECT_EQ(connection_->state(), State::kLingering);
  EXPECT_FALSE(connection_->ClientSendsNoMore());
}

TEST_F(ConnectionTest, BuffersGrownByALargeRequestAndAnswerAreGivenBack) {
  ServerOptions options = Options();
  options.body_limit_bytes = 1 << 20;
  Make(options);
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Written();
  const size_t usual = connection_->BufferBytes();
  // A 500 KB body, echoed: the read buffer, the body, the answer and the output all grow.
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 500000\r\n\r\n" +
       std::string(500'000, 'x'));
  EXPECT_GT(Written().size(), 500'000u);
  EXPECT_LE(connection_->BufferBytes(), usual + 64 * 1024);
  // And a steady connection keeps its small buffers (no allocation per request: see
  // connection_allocation_test).
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Written();
  EXPECT_LE(connection_->BufferBytes(), usual + 64 * 1024);
}

TEST_F(ConnectionTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(Written(), "HTTP/1.1 100 Continue\r\n\r\n");
  Feed("hi");
  EXPECT_THAT(Written(), HasSubstr("POST /k v11 [hi]"));
}

TEST_F(ConnectionTest, ExpectContinueIsNotAnsweredToHttp10) {
  Feed("POST /k HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(Written(), "");
}

TEST_F(ConnectionTest, AProtocolErrorIsAnsweredAndCloses) {
  Feed("GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(handler_.calls, 0);
  EXPECT_EQ(connection_->state(), State::kLingering);
}

TEST_F(ConnectionTest, AHandlerThatCompletesLaterIsAnsweredOnTheConnectionsThread) {
  handler_.defer = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(connection_->state(), State::kHandling);
  EXPECT_FALSE(connection_->WantsRead());
  EXPECT_EQ(Written(), "");
  handler_.Complete("late answer");
  EXPECT_EQ(host_.posts, 1);  // posted, not finished on the store's thread
  EXPECT_EQ(Written(), "");
  handler_.defer = false;
  connection_->OnHandlerDone(now_ms_);
  const std::string out = Written();
  EXPECT_LT(out.find("late answer"), out.find("GET /next"));
  EXPECT_EQ(handler_.calls, 2);
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, AStoreThatDoesNotAnswerInTimeGets503WithRetryAfterAndTheConnectionGoesOn) {
  handler_.defer = true;
  handler_.cancellable = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
  http::Response* abandoned = handler_.pending;
  const int64_t dispatched = now_ms_;
  Tick(dispatched + 9'999);
  EXPECT_EQ(Written(), "");
  Tick(dispatched + 10'000);
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_THAT(out, HasSubstr("Retry-After: 1\r\n"));
  EXPECT_THAT(out, Not(HasSubstr("Connection: close")));
  EXPECT_EQ(handler_.cancels, 1);
  EXPECT_EQ(connection_->state(), State::kIdle);

  // The next request gets a fresh Response; the store's late answer lands in the old one, which
  // it then frees (ASan reports a use after free or a leak otherwise), and changes nothing here.
  handler_.defer = false;
  StubHandler late;
  late.pending = abandoned;
  Feed("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_THAT(Written(), HasSubstr("GET /next v11"));
  late.Complete("too late");
  EXPECT_EQ(host_.posts, 0);
  EXPECT_EQ(Written(), "");
}

TEST_F(ConnectionTest, AClientGoneWhileItsRequestIsInTheStoreFreesTheConnectionAtOnce) {
  handler_.defer = true;
  handler_.cancellable = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
  http::Response* abandoned = handler_.pending;
  connection_->Abort();
  EXPECT_EQ(connection_->state(), State::kClosed);
  EXPECT_TRUE(connection_->CanDestroy());
  EXPECT_EQ(handler_.cancels, 1);
  connection_.reset();
  StubHandler late;
  late.pending = abandoned;
  late.Complete("nobody reads this");  // must touch only the abandoned call
  EXPECT_EQ(host_.posts, 0);
}

TEST_F(ConnectionTest, AClientGoneAfterTheStoreAnsweredWaitsForThePostedCompletion) {
  handler_.defer = true;
  handler_.cancellable = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
  handler_.Complete("answered");
  EXPECT_EQ(host_.posts, 1);
  connection_->Abort();
  EXPECT_FALSE(connection_->CanDestroy());  // the posted completion refers to it
  EXPECT_EQ(handler_.cancels, 0);           // the operation is over: nothing to cancel
  connection_->OnHandlerDone(now_ms_);
  EXPECT_TRUE(connection_->CanDestroy());
  EXPECT_FALSE(connection_->HasOutput());
}

TEST_F(ConnectionTest, ALongPollOutlivesTheStoreDeadlineAndItsExpireAnswersAtTheWaitsEnd) {
  handler_.defer = true;
  handler_.wait = absl::Seconds(60);
  Feed("GET /watch HTTP/1.1\r\nHost: h\r\n\r\n");
  const int64_t dispatched = now_ms_;
  Tick(dispatched + 10'000);  // the store deadline does not apply to a wait
  Tick(dispatched + 59'999);
  EXPECT_EQ(Written(), "");
  EXPECT_EQ(handler_.expires, 0);
  Tick(dispatched + 60'000);
  EXPECT_EQ(handler_.expires, 1);
  EXPECT_EQ(host_.posts, 1);  // the handler's answer comes back as any late completion
  connection_->OnHandlerDone(now_ms_);
  EXPECT_THAT(Written(), HasSubstr("expired"));
  EXPECT_EQ(connection_->state(), State::kIdle);
}

// The owner's time (now_ms) is refreshed on its tick, so it may be up to a tick old when a request
// parks; the wait runs from the host's own reading, never less than the time asked for.
TEST_F(ConnectionTest, ALongPollWaitsItsWholeTimeWhenTheOwnersTimeIsBehind) {
  handler_.defer = true;
  handler_.wait = absl::Seconds(1);
  const int64_t stale_ms = now_ms_;
  host_.monotonic_nanos = (stale_ms + 900) * 1'000'000;  // the real time is 0.9 s later
  Feed("GET /watch HTTP/1.1\r\nHost: h\r\n\r\n");
  Tick(stale_ms + 1'000);  // the next tick: only 0.1 s of the wait have passed
  EXPECT_EQ(handler_.expires, 0);
  Tick(stale_ms + 1'900);
  EXPECT_EQ(handler_.expires, 1);
  connection_->OnHandlerDone(now_ms_);
  EXPECT_THAT(Written(), HasSubstr("expired"));
}

TEST_F(ConnectionTest, ALongPollReadsOnAndAClientThatLeavesCancelsItAtOnce) {
  handler_.defer = true;
  handler_.cancellable = true;
  handler_.wait = absl::Seconds(60);
  Feed("GET /watch HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(connection_->WantsRead());  // to see the client leave
  Feed("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");  // buffered, not handled yet
  EXPECT_EQ(handler_.calls, 1);
  http::Response* abandoned = handler_.pending;
  connection_->OnPeerClosed();
  EXPECT_EQ(handler_.cancels, 1);  // cancelled before the call was given up
  EXPECT_EQ(connection_->state(), State::kClosed);
  EXPECT_TRUE(connection_->CanDestroy());
  EXPECT_EQ(Written(), "");
  // This stub's cancel does not complete the call (as when a write fired the waiter first): the
  // completion that comes later frees the given-up call (ASan reports a leak otherwise).
  connection_.reset();
  StubHandler late;
  late.pending = abandoned;
  late.Complete("too late");
  EXPECT_EQ(host_.posts, 0);
}

TEST_F(ConnectionTest, ALongPollAnsweredByAWriteHandlesTheBufferedRequestAfter) {
  handler_.defer = true;
  handler_.wait = absl::Seconds(60);
  Feed("GET /watch HTTP/1.1\r\nHost: h\r\n\r\n");
  Feed("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  handler_.Complete("changed");
  handler_.defer = false;
  handler_.wait = absl::ZeroDuration();
  connection_->OnHandlerDone(now_ms_);
  const std::string out = Written();
  EXPECT_LT(out.find("changed"), out.find("GET /next"));
  EXPECT_EQ(handler_.calls, 2);
}

TEST_F(ConnectionTest, AHalfClosedClientStillGetsItsAnswerThenTheConnectionCloses) {
  handler_.defer = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
  connection_->OnPeerClosed();
  handler_.Complete();
  connection_->OnHandlerDone(now_ms_);
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("200 OK"));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
}

TEST_F(ConnectionTest, ShutdownClosesAnIdleConnectionAndFinishesABusyOne) {
  connection_->OnShutdown();
  EXPECT_EQ(connection_->state(), State::kClosed);

  Make(Options());
  handler_.defer = true;
  Feed("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
  connection_->OnShutdown();
  handler_.Complete();
  connection_->OnHandlerDone(now_ms_);
  EXPECT_THAT(Written(), HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(connection_->state(), State::kLingering);
}

TEST_F(ConnectionTest, ADateOfTheHandlersSecondIsUsedForTimedAnswers) {
  // The handler timed its answer (Expires is computed from in_flight.now): Date shows that
  // second, not the host's cached one.
  class TimedHandler final : public http::RequestHandler {
   public:
    void Handle(const http::Request&, http::Response& response, http::Done done) override {
      response.Reset();
      response.in_flight.now = absl::FromUnixSeconds(1'767'225'661) + absl::Milliseconds(500);
      done();
    }
  } timed;
  Connection connection(options_, timed, host_, common::IpAddress::FromV4(1), now_ms_);
  const boost::asio::mutable_buffer buffer = connection.ReadBuffer();
  const std::string_view request = "GET /k HTTP/1.1\r\nHost: h\r\n\r\n";
  std::memcpy(buffer.data(), request.data(), request.size());
  connection.OnRead(request.size(), now_ms_);
  const std::string_view out = connection.StartWrite(now_ms_);
  EXPECT_THAT(std::string(out), HasSubstr("Date: Thu, 01 Jan 2026 00:01:01 GMT\r\n"));
}

}  // namespace
}  // namespace rendezvous::net

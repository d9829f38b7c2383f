// net::Connection driven directly, its life: every deadline, lingering and closing, buffers given
// back, a handler that completes later or never (the store deadline), long polls, half-closed
// clients, shutdown, the Date of timed answers. The fixture is in connection_test_util.h.
#include <string>
#include <string_view>
#include <vector>

#include "connection_test_util.h"

namespace rendezvous::net::connection_test {
namespace {

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
}  // namespace rendezvous::net::connection_test

// Long poll: GET/HEAD with Prefer: wait=N or ?wait=N, driven without threads (the waker is the
// test calling Drain, the wait's end is the test calling expire as net/ would).
#include <deque>
#include <string>

#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/wait.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Delete;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::Post;

HarnessOptions Manual(size_t per_client = 32, size_t total = 10000) {
  HarnessOptions options;
  options.handler.waker_thread = false;
  options.handler.max_waiters_per_client = per_client;
  options.handler.max_waiters = total;
  return options;
}

Call Wait(std::string target, std::string prefer = "wait=30") {
  Call call = Get(std::move(target));
  call.prefer = std::move(prefer);
  return call;
}

// A request whose answer may come later.
struct Pending {
  explicit Pending(Call c) : call(std::move(c)) {}
  Call call;
  Response response;
  int done = 0;
};

void Start(Harness& harness, Pending& pending) {
  harness.handler().Handle(pending.call.ToRequest(), pending.response,
                           [&pending] { ++pending.done; });
}

bool HasLine(const Response& response, std::string_view line) {
  return response.extra_headers.find(std::string(line) + "\r\n") != std::string::npos;
}

std::string EtagOf(const Response& response) {
  const size_t at = response.extra_headers.find("ETag: ");
  const size_t end = response.extra_headers.find("\r\n", at);
  return response.extra_headers.substr(at + 6, end - at - 6);
}

TEST(WaitTest, AMissingKeyWaitsUntilAWriteCreatesIt) {
  Harness harness(Manual());
  Pending waiting(Wait("/k"));
  Start(harness, waiting);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 1u);
  EXPECT_EQ(harness.Send(Post("/k", "v1")).status, 200);
  EXPECT_EQ(waiting.done, 0);  // the waker answers, not the writer's thread
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_EQ(waiting.response.body, "v1");
  EXPECT_TRUE(HasLine(waiting.response, "Preference-Applied: wait=30"));
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

TEST(WaitTest, AWriteWakesOnlyTheWaitersOfItsKey) {
  Harness harness(Manual());
  Pending waiting(Wait("/a"));
  Start(harness, waiting);
  harness.Send(Post("/b", "v"));
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 0u);
  EXPECT_EQ(waiting.done, 0);
}

TEST(WaitTest, IfNoneMatchWaitsForAChangeAndADeleteIs404) {
  Harness harness(Manual());
  const std::string etag = EtagOf(harness.Send(Post("/k", "v")));
  Pending waiting(Wait("/k").IfNoneMatch(etag));
  Start(harness, waiting);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(harness.Send(Delete("/k")).status, 204);
  harness.key_handler().waiters()->Drain();
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 404);
}

TEST(WaitTest, TheWaitsEndIs304WhenUnchangedAnd404WhenStillMissing) {
  Harness harness(Manual());
  const std::string etag = EtagOf(harness.Send(Post("/k", "v")));
  Pending unchanged(Wait("/k").IfNoneMatch(etag));
  Start(harness, unchanged);
  Pending missing(Wait("/none"));
  Start(harness, missing);
  EXPECT_EQ(unchanged.response.in_flight.wait, absl::Seconds(30));
  unchanged.response.in_flight.expire();  // what net/ does once the wait has passed
  missing.response.in_flight.expire();
  EXPECT_EQ(unchanged.done, 1);
  EXPECT_EQ(unchanged.response.status, 304);
  EXPECT_EQ(missing.done, 1);
  EXPECT_EQ(missing.response.status, 404);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

TEST(WaitTest, AnswersAtOnceWhenTheStateAlreadyDiffers) {
  Harness harness(Manual());
  harness.Send(Post("/k", "v"));
  const Response live = harness.Send(Wait("/k"));  // live key, no If-None-Match
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(harness.Send(Wait("/k").IfNoneMatch("\"999\"")).status, 200);  // another ETag
  EXPECT_EQ(harness.Send(Wait("/none").IfNoneMatch("\"1\"")).status, 404);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

TEST(WaitTest, TheWaitIsCutToMaxWaitAndTheQueryWorksToo) {
  Harness harness(Manual());
  Pending header(Wait("/k", "respond-async, WAIT = 1000; x=y, wait=5"));
  Start(harness, header);
  EXPECT_TRUE(HasLine(header.response, "Preference-Applied: wait=60"));
  EXPECT_EQ(header.response.in_flight.wait, absl::Seconds(60));
  Pending query(Wait("/k?x=1&wait=7", ""));
  Start(harness, query);
  EXPECT_EQ(query.response.in_flight.wait, absl::Seconds(7));
  EXPECT_EQ(harness.key_handler().waiters()->size(), 2u);
}

TEST(WaitTest, AMalformedWaitIs400AndCostsNoToken) {
  Harness harness(Manual());
  for (const char* prefer : {"wait=-1", "wait=1.5", "wait=", "wait", "wait=1234567890"}) {
    const Response response = harness.Send(Wait("/k", prefer));
    EXPECT_EQ(response.status, 400) << prefer;
    EXPECT_EQ(response.body, "Invalid wait\n");
    EXPECT_EQ(response.extra_headers.find("RateLimit"), std::string::npos) << prefer;
  }
  EXPECT_EQ(harness.Send(Wait("/k?wait=x", "")).status, 400);
  EXPECT_EQ(harness.Send(Wait("/k", "return=minimal, foo=\"a,b\"")).status, 404);  // ignored
}

TEST(WaitTest, WaitersAreBoundedPerClientAndInTotal) {
  Harness harness(Manual(/*per_client=*/2, /*total=*/3));
  Pending a(Wait("/k")), b(Wait("/k")), c(Wait("/k")), d(Wait("/k").From("10.0.0.2"));
  Start(harness, a);
  Start(harness, b);
  Start(harness, c);
  EXPECT_EQ(c.response.status, 429);
  EXPECT_EQ(c.response.body, "Too many waiting requests from your address\n");
  Start(harness, d);
  EXPECT_EQ(d.done, 0);
  Pending e(Wait("/k").From("10.0.0.3"));
  Start(harness, e);
  EXPECT_EQ(e.response.body, "Too many waiting requests on this server\n");
  // A client that leaves frees its place at once.
  a.response.in_flight.cancel();
  EXPECT_EQ(a.done, 1);
  Pending f(Wait("/k"));
  Start(harness, f);
  EXPECT_EQ(f.done, 0);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 3u);
}

TEST(WaitTest, ACancelAfterAWakeDoesNothing) {
  Harness harness(Manual());
  Pending waiting(Wait("/k"));
  Start(harness, waiting);
  harness.Send(Post("/k", "v"));
  waiting.response.in_flight.cancel();  // the write fired it first: the waker answers
  EXPECT_EQ(waiting.done, 0);
  harness.key_handler().waiters()->Drain();
  EXPECT_EQ(waiting.done, 1);
}

TEST(WaitTest, ShutdownAnswersEveryWaiterAndLaterWaitsAnswerAtOnce) {
  Harness harness(Manual());
  Pending a(Wait("/k")), b(Wait("/j"));
  Start(harness, a);
  Start(harness, b);
  harness.key_handler().waiters()->CloseAll();
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 2u);
  EXPECT_EQ(a.response.status, 404);
  EXPECT_EQ(b.response.status, 404);
  EXPECT_EQ(harness.Send(Wait("/k")).status, 404);
}

// The store lost its change feed for a while (Redis's subscription): every waiter reads its key
// again; one whose key changed answers, the others park again for the rest of their wait.
TEST(WaitTest, WakeAllRereadsEveryWaiterAndParksAgainThoseWithNothingNew) {
  Harness harness(Manual());
  const std::string etag = EtagOf(harness.Send(Post("/changed", "old")));
  Pending a(Wait("/k")), b(Wait("/j"));
  Call on_changed = Wait("/changed");
  on_changed.if_none_match = etag;
  Pending c(on_changed);
  Start(harness, a);
  Start(harness, b);
  Start(harness, c);
  ASSERT_EQ(harness.key_handler().waiters()->size(), 3u);
  // A write the registry did not hear of (as while a subscription is down).
  ASSERT_EQ(harness.Send(Post("/changed", "new")).status, 200);
  harness.key_handler().waiters()->Drain();  // the write's own wake; consumes it
  ASSERT_EQ(c.done, 1);
  Pending d(on_changed);  // parks on the old ETag: answered at once, the value differs
  Start(harness, d);
  EXPECT_EQ(d.done, 1);

  harness.key_handler().waiters()->WakeAll();
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 2u);
  EXPECT_EQ(a.done, 0);
  EXPECT_EQ(b.done, 0);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 2u);
  harness.Send(Post("/k", "v"));
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  EXPECT_EQ(a.response.status, 200);
  b.response.in_flight.expire();
  EXPECT_EQ(b.response.status, 404);
  EXPECT_EQ(b.done, 1);
}

// A wake for a write the waiter had read already (Redis delivers the message on another
// connection, possibly after the waiter's read) must not end its wait with a 304.
TEST(WaitTest, AWakeThatFindsNothingNewParksAgain) {
  Harness harness(Manual());
  const std::string etag = EtagOf(harness.Send(Post("/k", "v1")));
  Call call = Wait("/k");
  call.if_none_match = etag;
  Pending waiting(call);
  Start(harness, waiting);
  harness.key_handler().waiters()->OnChange("k");  // the late message of the write of v1
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 1u);
  harness.Send(Post("/k", "v2"));
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_EQ(waiting.response.body, "v2");
}

// The wait's end, or the client leaving, while a wake holds the waiter (fired, not yet re-read):
// the wake answers instead of parking it again, exactly once.
TEST(WaitTest, TheWaitEndingWhileAWakeHoldsTheWaiterIsAnsweredByTheWake) {
  Harness harness(Manual());
  Pending waiting(Wait("/k"));
  Start(harness, waiting);
  harness.key_handler().waiters()->OnChange("k");
  waiting.response.in_flight.expire();  // the registry holds it: nothing to do here
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(harness.key_handler().waiters()->Drain(), 1u);
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 404);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
}

TEST(WaitTest, AClientLeavingWhileAWakeHoldsTheWaiterIsCompletedOnce) {
  Harness harness(Manual());
  Pending waiting(Wait("/k"));
  Start(harness, waiting);
  harness.key_handler().waiters()->OnChange("k");
  waiting.response.in_flight.cancel();
  EXPECT_EQ(waiting.done, 0);
  harness.key_handler().waiters()->Drain();
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 0u);
  Pending next(Wait("/k"));  // its place under the caps is free
  Start(harness, next);
  EXPECT_EQ(harness.key_handler().waiters()->size(), 1u);
}

// On an engine that answers later (Redis), the request's first read is still in flight when the
// waiter is linked: whoever fires it meanwhile must leave the Response to that read.
struct DeferredHarness {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  testing::DeferredStore store{backend};
  Harness harness{Manual(), &store};
  WaiterRegistry& waiters() { return *harness.key_handler().waiters(); }
};

TEST(WaitTest, TheClientLeavingDuringTheFirstReadIsCompletedByThatRead) {
  DeferredHarness h;
  Pending waiting(Wait("/k"));
  Start(h.harness, waiting);
  ASSERT_EQ(h.store.pending(), 1u);
  waiting.response.in_flight.cancel();
  EXPECT_EQ(waiting.done, 0);  // the read still uses the Response
  h.store.RunAll();
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(h.waiters().size(), 0u);
}

TEST(WaitTest, TheWaitEndingDuringTheFirstReadIsAnsweredByThatRead) {
  DeferredHarness h;
  Pending waiting(Wait("/k"));
  Start(h.harness, waiting);
  waiting.response.in_flight.expire();
  EXPECT_EQ(waiting.done, 0);
  h.store.RunAll();
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 404);
}

TEST(WaitTest, AWakeOrShutdownDuringTheFirstReadMakesTheWakerReadAgain) {
  DeferredHarness h;
  Pending waiting(Wait("/k"));
  Start(h.harness, waiting);
  h.waiters().OnChange("k");  // a write the read may or may not have seen
  EXPECT_EQ(h.waiters().Drain(), 0u);
  h.store.RunAll();  // missing: not an answer, but woken: queued, not parked
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(h.waiters().Drain(), 1u);
  h.store.RunAll();  // read again: still missing, parked again
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(h.waiters().size(), 1u);

  Pending other(Wait("/j"));
  Start(h.harness, other);
  h.waiters().CloseAll();
  EXPECT_EQ(h.waiters().Drain(), 1u);  // the parked one; the other's read is in flight
  h.store.RunAll();  // both answer: nothing is queued after shutdown
  EXPECT_EQ(h.waiters().Drain(), 0u);
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(other.done, 1);
  EXPECT_EQ(waiting.response.status, 404);
  EXPECT_EQ(other.response.status, 404);
}

// Reads the backend at once but delivers the result later, as Redis does: a write and its wake
// can land between the read and its completion.
class LateReplyStore final : public kv::Store {
 public:
  explicit LateReplyStore(kv::Store& backend) : backend_(backend) {}
  void Get(std::string_view key, absl::Time now, kv::GetCallback done) override {
    backend_.Get(key, now, [this, done = std::move(done)](const kv::GetResult& result) mutable {
      replies_.push_back([status = result.status, value = std::string(result.entry.value),
                          version = result.entry.version, expires = result.entry.expires_at,
                          done = std::move(done)]() mutable {
        kv::GetResult copy;
        copy.status = status;
        copy.entry = {value, version, expires};
        done(copy);
      });
    });
  }
  void Put(const kv::PutRequest& request, kv::WriteCallback done) override {
    backend_.Put(request, std::move(done));
  }
  void Delete(const kv::DeleteRequest& request, kv::WriteCallback done) override {
    backend_.Delete(request, std::move(done));
  }
  size_t SweepExpired(absl::Time) override { return 0; }
  kv::Status Flush() override { return kv::Status::kOk; }
  size_t Size() const override { return backend_.Size(); }
  void SetChangeListener(kv::ChangeListener) override {}
  void DeliverReplies() {
    while (!replies_.empty()) {
      auto reply = std::move(replies_.front());
      replies_.pop_front();
      reply();
    }
  }

 private:
  kv::Store& backend_;
  std::deque<absl::AnyInvocable<void()>> replies_;
};

// A write that lands while a wake re-reads the key must not be missed: the waiter is linked again
// before that read, as before the first one.
TEST(WaitTest, AWriteBetweenAWakesReadAndItsReplyIsNotMissed) {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  LateReplyStore store{backend};
  Harness harness{Manual(), &store};
  WaiterRegistry& waiters = *harness.key_handler().waiters();
  Pending waiting(Wait("/k"));
  Start(harness, waiting);
  store.DeliverReplies();  // missing: parked
  waiters.OnChange("k");   // a wake that will find nothing new
  EXPECT_EQ(waiters.Drain(), 1u);  // its read ran (missing); the reply is on its way
  kv::PutRequest put;
  put.key = "k";
  put.value = "v";
  put.now = absl::Now();
  put.expires_at = absl::InfiniteFuture();
  backend.Put(put, [](const kv::WriteResult& r) { ASSERT_EQ(r.status, kv::Status::kOk); });
  waiters.OnChange("k");   // the write's wake, before the stale reply
  store.DeliverReplies();  // "missing", but woken meanwhile: read again
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(waiters.Drain(), 1u);
  store.DeliverReplies();
  EXPECT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_EQ(waiting.response.body, "v");
}

TEST(ParseWaitTest, HeaderAndQuery) {
  EXPECT_FALSE(ParseWait("", "/k").asked);
  EXPECT_FALSE(ParseWait("respond-async", "/k?waiting=3").asked);
  EXPECT_EQ(ParseWait("wait=\"12\"", "/k").duration, absl::Seconds(12));
  EXPECT_EQ(ParseWait("a=1,wait=3,wait=9", "/k").duration, absl::Seconds(3));
  EXPECT_EQ(ParseWait("wait=3", "/k?wait=4").duration, absl::Seconds(4));
  EXPECT_TRUE(ParseWait("wait=+3", "/k").malformed);
}

}  // namespace
}  // namespace rendezvous::http

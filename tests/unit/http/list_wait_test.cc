// A listing that waits (GET /ip/*/NAME with a wait and If-None-Match), driven without threads as
// the key waits are (handler_wait_test.cc): the waker is the test calling Drain, the wait's end
// and the client leaving are the test calling expire and cancel as net/ would.
#include <string>

#include "gtest/gtest.h"
#include "handler_harness.h"
#include "kv/memory_store.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Delete;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::HeaderValue;
using testing::Post;

HarnessOptions Manual(size_t per_client = 32, size_t total = 10000) {
  HarnessOptions options;
  options.handler.waker_thread = false;
  options.handler.max_waiters_per_client = per_client;
  options.handler.max_waiters = total;
  return options;
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

void Announce(Harness& harness, std::string_view address, std::string_view name,
              std::string value) {
  ASSERT_EQ(
      harness.Send(Post("/ip/" + std::string(name), std::move(value)).From(std::string(address)))
          .status,
      200);
}

std::string ListETag(Harness& harness, std::string_view name) {
  return HeaderValue(harness.Send(Get("/ip/*/" + std::string(name))), "ETag");
}

// GET /ip/*/NAME waiting `prefer` with If-None-Match `etag`, from `client`.
Call WaitList(std::string_view name, std::string etag, std::string prefer = "wait=30",
              std::string client = "198.51.100.1") {
  Call call = Get("/ip/*/" + std::string(name));
  call.prefer = std::move(prefer);
  call.IfNoneMatch(std::move(etag));
  call.From(std::move(client));
  return call;
}

WaiterRegistry& Waiters(Harness& harness) { return *harness.key_handler().waiters(); }

TEST(ListWaitTest, AnAnnouncementOfTheNameWakesTheWaiterWithTheNewListing) {
  Harness harness(Manual());
  Announce(harness, "10.0.0.1", "chat", "a");
  const std::string etag = ListETag(harness, "chat");
  Pending waiting(WaitList("chat", etag));
  Start(harness, waiting);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(Waiters(harness).size(), 1u);
  EXPECT_EQ(HeaderValue(waiting.response, "Preference-Applied"), "wait=30");

  Announce(harness, "10.0.0.2", "chat", "b");
  EXPECT_EQ(waiting.done, 0);  // the waker answers, not the writer's thread
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_NE(waiting.response.body.find("\"total\":2"), std::string::npos) << waiting.response.body;
  const std::string fresh = HeaderValue(waiting.response, "ETag");
  EXPECT_NE(fresh, etag);
  EXPECT_EQ(fresh, ListETag(harness, "chat"));
  EXPECT_EQ(Waiters(harness).size(), 0u);
}

TEST(ListWaitTest, ADeleteOfAnAnnouncementWakesTheWaiter) {
  Harness harness(Manual());
  Announce(harness, "10.0.0.1", "chat", "a");
  Announce(harness, "10.0.0.2", "chat", "b");
  Pending waiting(WaitList("chat", ListETag(harness, "chat")));
  Start(harness, waiting);
  EXPECT_EQ(harness.Send(Delete("/ip/chat").From("10.0.0.2")).status, 204);
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_NE(waiting.response.body.find("\"total\":1"), std::string::npos);
}

TEST(ListWaitTest, AnotherNameOrAPlainKeyWakesNoListingWaiter) {
  Harness harness(Manual());
  Pending waiting(WaitList("chat", ListETag(harness, "chat")));
  Start(harness, waiting);
  Announce(harness, "10.0.0.1", "chatter", "x");
  Announce(harness, "10.0.0.1", "chat/room", "x");
  // The key "chat" and the key "ip/*/chat" are not the listing's name: no store key is.
  EXPECT_EQ(harness.Send(Post("/chat", "x")).status, 200);
  EXPECT_EQ(Waiters(harness).Drain(), 0u);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(Waiters(harness).size(), 1u);
}

TEST(ListWaitTest, AnAnnouncementWakesNoWaiterOfAKeyEqualToItsName) {
  Harness harness(Manual());
  Call key_wait = Get("/chat");
  key_wait.prefer = "wait=30";
  Pending waiting(key_wait);
  Start(harness, waiting);
  Announce(harness, "10.0.0.1", "chat", "x");
  EXPECT_EQ(Waiters(harness).Drain(), 0u);
  EXPECT_EQ(waiting.done, 0);
}

TEST(ListWaitTest, TheWaitsEndIs304WhenUnchangedAnd200WhenAnAnnouncerExpired) {
  Harness harness(Manual());
  Call short_lived = Post("/ip/chat", "a").From("10.0.0.1");
  short_lived.Ttl("5s");
  ASSERT_EQ(harness.Send(short_lived).status, 200);
  Announce(harness, "10.0.0.2", "other", "b");
  Pending unchanged(WaitList("other", ListETag(harness, "other")));
  Start(harness, unchanged);
  Pending expiring(WaitList("chat", ListETag(harness, "chat")));
  Start(harness, expiring);
  EXPECT_EQ(expiring.response.in_flight.wait, absl::Seconds(30));

  harness.clock().Advance(absl::Seconds(6));  // an expiry is no event: nobody is woken
  EXPECT_EQ(Waiters(harness).Drain(), 0u);
  unchanged.response.in_flight.expire();  // what net/ does once the wait has passed
  expiring.response.in_flight.expire();
  ASSERT_EQ(unchanged.done, 1);
  EXPECT_EQ(unchanged.response.status, 304);
  EXPECT_TRUE(unchanged.response.body.empty());
  ASSERT_EQ(expiring.done, 1);
  EXPECT_EQ(expiring.response.status, 200);
  EXPECT_NE(expiring.response.body.find("\"total\":0"), std::string::npos);
  EXPECT_EQ(Waiters(harness).size(), 0u);
}

TEST(ListWaitTest, AnswersAtOnceWithoutAMatchingIfNoneMatch) {
  Harness harness(Manual());
  Announce(harness, "10.0.0.1", "chat", "a");
  Call no_tag = WaitList("chat", "");
  const Response at_once = harness.Send(no_tag);
  EXPECT_EQ(at_once.status, 200);
  EXPECT_EQ(HeaderValue(at_once, "Preference-Applied"), "wait=30");
  EXPECT_EQ(harness.Send(WaitList("chat", "\"999\"")).status, 200);
  EXPECT_EQ(harness.Send(WaitList("chat", ListETag(harness, "chat"), "wait=0")).status, 304);
  EXPECT_EQ(Waiters(harness).size(), 0u);
}

TEST(ListWaitTest, TheWaitIsCutToMaxWaitAndTheQueryWorksTooWithALimit) {
  HarnessOptions options = Manual();
  options.handler.max_wait = absl::Seconds(20);
  Harness harness(options);
  for (int i = 1; i <= 3; ++i) Announce(harness, "10.0.0." + std::to_string(i), "n", "v");
  Pending header(WaitList("n", ListETag(harness, "n"), "wait=100"));
  Start(harness, header);
  EXPECT_EQ(HeaderValue(header.response, "Preference-Applied"), "wait=20");
  EXPECT_EQ(header.response.in_flight.wait, absl::Seconds(20));
  Call query = WaitList("n?limit=1&wait=7", ListETag(harness, "n"), "");
  Pending by_query(query);
  Start(harness, by_query);
  EXPECT_EQ(by_query.response.in_flight.wait, absl::Seconds(7));
  EXPECT_EQ(Waiters(harness).size(), 2u);
  Announce(harness, "10.0.0.4", "n", "v");
  EXPECT_EQ(Waiters(harness).Drain(), 2u);
  // The limit of the parked request holds when it answers.
  const std::string& body = by_query.response.body;
  EXPECT_NE(body.find("\"total\":4"), std::string::npos) << body;
  EXPECT_EQ(body.find("\"address\""), body.rfind("\"address\"")) << body;
}

TEST(ListWaitTest, AMalformedWaitIs400AndCostsNoToken) {
  HarnessOptions options = Manual();
  options.max_requests = 1;
  Harness harness(options);
  for (const char* prefer : {"wait=-1", "wait=1.5", "wait="}) {
    const Response response = harness.Send(WaitList("n", "\"1\"", prefer));
    EXPECT_EQ(response.status, 400) << prefer;
    EXPECT_EQ(response.body, "Invalid wait\n");
    EXPECT_EQ(HeaderValue(response, "RateLimit-Remaining"), "") << prefer;
  }
  EXPECT_EQ(harness.Send(WaitList("n?wait=x", "\"1\"", "")).status, 400);
  EXPECT_EQ(harness.Send(Get("/ip/*/n")).status, 200);  // the one token
}

TEST(ListWaitTest, ListingWaitersShareTheCapsOfKeyWaiters) {
  Harness harness(Manual(/*per_client=*/2, /*total=*/3));
  const std::string etag = ListETag(harness, "n");
  Call key_wait = Get("/k").From("198.51.100.1");
  key_wait.prefer = "wait=30";
  Pending a(key_wait), b(WaitList("n", etag)), c(WaitList("n", etag));
  Start(harness, a);
  Start(harness, b);
  Start(harness, c);
  EXPECT_EQ(b.done, 0);
  ASSERT_EQ(c.done, 1);
  EXPECT_EQ(c.response.status, 429);
  EXPECT_EQ(c.response.body, "Too many waiting requests from your address\n");
  Pending d(WaitList("n", etag, "wait=30", "10.0.0.9"));
  Start(harness, d);
  EXPECT_EQ(d.done, 0);
  Pending e(WaitList("n", etag, "wait=30", "10.0.0.10"));
  Start(harness, e);
  EXPECT_EQ(e.response.body, "Too many waiting requests on this server\n");
}

TEST(ListWaitTest, AClientThatLeavesFreesItsPlaceAtOnce) {
  Harness harness(Manual(/*per_client=*/1));
  const std::string etag = ListETag(harness, "n");
  Pending first(WaitList("n", etag));
  Start(harness, first);
  first.response.in_flight.cancel();  // what net/ does when the client closes
  EXPECT_EQ(first.done, 1);
  EXPECT_EQ(Waiters(harness).size(), 0u);
  Pending second(WaitList("n", etag));
  Start(harness, second);
  EXPECT_EQ(second.done, 0);
  // A write after the cancel answers only the waiter still parked.
  Announce(harness, "10.0.0.1", "n", "v");
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  EXPECT_EQ(first.done, 1);
  EXPECT_EQ(second.done, 1);
}

TEST(ListWaitTest, ShutdownAnswersListingWaitersAndLaterWaitsAnswerAtOnce) {
  Harness harness(Manual());
  const std::string etag = ListETag(harness, "n");
  Pending waiting(WaitList("n", etag));
  Start(harness, waiting);
  Waiters(harness).CloseAll();
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 304);
  EXPECT_EQ(harness.Send(WaitList("n", etag)).status, 304);
}

// A wake is a hint (a late Redis message, a wake of every waiter after a lost subscription): the
// listing is read again and the waiter parks again while its ETag is unchanged.
TEST(ListWaitTest, AWakeThatFindsTheListingUnchangedParksAgain) {
  Harness harness(Manual());
  Announce(harness, "10.0.0.1", "chat", "a");
  Pending waiting(WaitList("chat", ListETag(harness, "chat")));
  Start(harness, waiting);
  Waiters(harness).OnChange("chat", WaitOn::kListing);  // the late message of a write it saw
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(Waiters(harness).size(), 1u);
  Waiters(harness).WakeAll();  // covers listing waiters too
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(Waiters(harness).size(), 1u);
  Announce(harness, "10.0.0.2", "chat", "b");
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 200);
  EXPECT_NE(waiting.response.body.find("\"total\":2"), std::string::npos);
  EXPECT_EQ(Waiters(harness).size(), 0u);
}

TEST(ListWaitTest, TheWaitEndingWhileAWakeHoldsTheListingIsAnsweredOnceByTheWake) {
  Harness harness(Manual());
  Pending waiting(WaitList("n", ListETag(harness, "n")));
  Start(harness, waiting);
  Waiters(harness).OnChange("n", WaitOn::kListing);
  waiting.response.in_flight.expire();  // the registry holds it: nothing to do here
  EXPECT_EQ(waiting.done, 0);
  EXPECT_EQ(Waiters(harness).Drain(), 1u);
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 304);
  EXPECT_EQ(Waiters(harness).size(), 0u);
}

// On an engine that answers later (Redis) the first list is in flight while the waiter is
// linked: whoever fires it meanwhile leaves the Response to that list.
struct DeferredListHarness {
  kv::MemoryStore backend{kv::MemoryStore::Options{}};
  testing::DeferredStore store{backend};
  Harness harness{Manual(), &store};
};

TEST(ListWaitTest, AWakeDuringTheFirstListMakesTheWakerListAgain) {
  std::string empty_etag;
  {
    Harness plain(Manual());
    empty_etag = ListETag(plain, "n");  // an empty listing's ETag is the same everywhere
  }
  DeferredListHarness h;
  Pending waiting(WaitList("n", empty_etag));
  Start(h.harness, waiting);
  ASSERT_EQ(h.store.pending(), 1u);
  Waiters(h.harness).OnChange("n", WaitOn::kListing);
  waiting.response.in_flight.cancel();  // recorded only: the list still uses the Response
  EXPECT_EQ(Waiters(h.harness).Drain(), 0u);
  EXPECT_EQ(waiting.done, 0);
  h.store.RunAll();  // unchanged, but the wait is over: that list answers
  ASSERT_EQ(waiting.done, 1);
  EXPECT_EQ(waiting.response.status, 304);
  EXPECT_EQ(Waiters(h.harness).size(), 0u);

  Pending woken(WaitList("n", empty_etag));
  Start(h.harness, woken);
  Waiters(h.harness).OnChange("n", WaitOn::kListing);
  h.store.RunAll();  // unchanged but woken: queued, not parked
  EXPECT_EQ(woken.done, 0);
  EXPECT_EQ(Waiters(h.harness).Drain(), 1u);
  h.store.RunAll();  // listed again: still unchanged, parked again
  EXPECT_EQ(woken.done, 0);
  EXPECT_EQ(Waiters(h.harness).size(), 1u);
  Waiters(h.harness).CloseAll();
  EXPECT_EQ(Waiters(h.harness).Drain(), 1u);
  h.store.RunAll();
  ASSERT_EQ(woken.done, 1);
  EXPECT_EQ(woken.response.status, 304);
}

}  // namespace
}  // namespace rendezvous::http

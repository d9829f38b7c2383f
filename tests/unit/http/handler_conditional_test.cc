// Handler: ETags and expiry headers, If-None-Match (304), If-Match and If-None-Match: * on writes
// (compare-and-swap, create-only), X-TTL, and a store that answers later (issue 6).
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/http_date.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/handler.h"
#include "http/response.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::DeferredStore;
using testing::Delete;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::HasHeader;
using testing::HeaderValue;
using testing::MethodCall;
using testing::Post;
using testing::Put;
using testing::Read;

std::string ETagOf(const Response& response) { return HeaderValue(response, "ETag"); }

void ExpectPreconditionFailed(const Response& response) {
  EXPECT_EQ(response.status, 412);
  EXPECT_EQ(response.body, "Precondition Failed\n");
  EXPECT_FALSE(HasHeader(response, "ETag")) << response.extra_headers;
}

TEST(ETagHeaderTest, ValuesAndWriteRepliesCarryETagAndExpiry) {
  Harness harness;
  const absl::Time written = harness.clock().Now();
  const Response write = harness.Send(Post("/k", "v"));
  EXPECT_EQ(write.status, 200);
  EXPECT_EQ(write.body, "OK");
  const std::string etag = ETagOf(write);
  EXPECT_TRUE(etag.size() >= 3 && etag.front() == '"' && etag.back() == '"') << etag;
  EXPECT_EQ(HeaderValue(write, "Expires"), common::FormatHttpDate(written + absl::Hours(2)));
  EXPECT_EQ(HeaderValue(write, "X-Expires-In"), "7200");
  EXPECT_EQ(HeaderValue(write, "Cache-Control"), "no-store");

  harness.clock().Advance(absl::Milliseconds(100'500));
  const Response read = harness.Send(Get("/k"));
  EXPECT_EQ(ETagOf(read), etag);
  EXPECT_EQ(HeaderValue(read, "Expires"), common::FormatHttpDate(written + absl::Hours(2)));
  EXPECT_EQ(HeaderValue(read, "X-Expires-In"), "7099");  // 7099.5 s left, rounded down
  EXPECT_EQ(HeaderValue(read, "Cache-Control"), "no-store");
}

TEST(ETagHeaderTest, ChangesOnEveryWriteEvenOfTheSameBytes) {
  Harness harness;
  const std::string first = ETagOf(harness.Send(Post("/k", "same")));
  const std::string second = ETagOf(harness.Send(Put("/k", "same")));
  EXPECT_NE(first, second);
  EXPECT_EQ(ETagOf(harness.Send(Get("/k"))), second);
  EXPECT_NE(ETagOf(harness.Send(Post("/other", "same"))), second);
}

TEST(ETagHeaderTest, ErrorsCarryNoValueHeaders) {
  Harness harness;
  harness.Send(Post("/owned", "v").Secret("s"));
  for (const Call& call : {Get("/missing"), Post("/owned", "x"), Delete("/owned").Secret("s")}) {
    const Response response = harness.Send(call);
    EXPECT_FALSE(HasHeader(response, "ETag")) << response.status;
    EXPECT_FALSE(HasHeader(response, "Expires")) << response.status;
  }
}

TEST(HandlerIfNoneMatchTest, UnchangedValueIs304WithItsHeadersAndNoBody) {
  Harness harness;
  const std::string etag = ETagOf(harness.Send(Post("/k", "value")));
  for (const char* method : {"GET", "HEAD"}) {
    Call call = MethodCall(method, "/k").IfNoneMatch(etag);
    const Response response = harness.Send(call);
    EXPECT_EQ(response.status, 304) << method;
    EXPECT_EQ(response.body, "") << method;
    EXPECT_EQ(response.content_type, ContentType::kNone) << method;
    EXPECT_EQ(ETagOf(response), etag) << method;
    EXPECT_EQ(HeaderValue(response, "X-Expires-In"), "7200") << method;
    EXPECT_EQ(HeaderValue(response, "Cache-Control"), "no-store") << method;
  }
  for (const std::string& header : {"W/" + etag, "\"nope\", " + etag, std::string("*")}) {
    EXPECT_EQ(harness.Send(Get("/k").IfNoneMatch(header)).status, 304) << header;
  }
}

TEST(HandlerIfNoneMatchTest, ChangedOrMissingValueIsAnsweredInFull) {
  Harness harness;
  const std::string old_etag = ETagOf(harness.Send(Post("/k", "v1")));
  harness.Send(Post("/k", "v2"));
  const Response response = harness.Send(Get("/k").IfNoneMatch(old_etag));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "v2");
  EXPECT_NE(ETagOf(response), old_etag);
  EXPECT_EQ(harness.Send(Get("/missing").IfNoneMatch("*")).status, 404);
  EXPECT_EQ(harness.Send(Get("/missing").IfNoneMatch(old_etag)).status, 404);
}

TEST(HandlerIfMatchTest, MakesAWriteACompareAndSwap) {
  Harness harness;
  const std::string v1 = ETagOf(harness.Send(Post("/k", "v1")));
  const Response swapped = harness.Send(Put("/k", "v2").IfMatch(v1));
  EXPECT_EQ(swapped.status, 200);
  const std::string v2 = ETagOf(swapped);
  ExpectPreconditionFailed(harness.Send(Put("/k", "lost").IfMatch(v1)));
  ExpectPreconditionFailed(harness.Send(Post("/k", "lost").IfMatch("\"nope\"")));
  EXPECT_EQ(Read(harness, "/k"), "200 v2");
  EXPECT_EQ(harness.Send(Post("/k", "v3").IfMatch(v2)).status, 200);
  EXPECT_EQ(Read(harness, "/k"), "200 v3");
}

TEST(HandlerIfMatchTest, AMissingKeyNeverMatches) {
  Harness harness;
  ExpectPreconditionFailed(harness.Send(Put("/k", "v").IfMatch("\"1\"")));
  ExpectPreconditionFailed(harness.Send(Put("/k", "v").IfMatch("*")));
  ExpectPreconditionFailed(harness.Send(Post("/ip/svc", "v").IfMatch("*")));
  EXPECT_EQ(Read(harness, "/k"), "404 Key not found\n");
  EXPECT_EQ(Read(harness, "/ip/127.0.0.1/svc"), "404 Key not found\n");
}

TEST(HandlerIfMatchTest, StarUpdatesAnExistingKey) {
  Harness harness;
  harness.Send(Post("/k", "v1"));
  const Response response = harness.Send(Put("/k", "v2").IfMatch("*"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(ETagOf(response), ETagOf(harness.Send(Get("/k"))));
  EXPECT_EQ(Read(harness, "/k"), "200 v2");
}

TEST(HandlerIfMatchTest, TheOwnerCheckComesFirst) {
  Harness harness;
  const std::string etag = ETagOf(harness.Send(Post("/owned", "v").Secret("s")));
  EXPECT_EQ(harness.Send(Put("/owned", "x").IfMatch("\"stale\"")).status, 403);
  EXPECT_EQ(harness.Send(Put("/owned", "x").IfMatch("*")).status, 403);
  EXPECT_EQ(harness.Send(Put("/owned", "x").IfMatch(etag)).status, 403);
  EXPECT_EQ(harness.Send(Put("/owned", "x").IfMatch(etag).Secret("s")).status, 200);
}

TEST(IfNoneMatchStarTest, CreatesOnlyIfAbsent) {
  HarnessOptions options;
  options.handler.expire = absl::Seconds(10);
  Harness harness(options);
  EXPECT_EQ(harness.Send(Put("/lock", "me").IfNoneMatch("*")).status, 200);
  ExpectPreconditionFailed(harness.Send(Put("/lock", "you").IfNoneMatch("*")));
  ExpectPreconditionFailed(harness.Send(Post("/lock", "you").IfNoneMatch(" * ")));
  EXPECT_EQ(Read(harness, "/lock"), "200 me");
  harness.clock().Advance(absl::Seconds(10));  // expired: absent again
  EXPECT_EQ(harness.Send(Post("/lock", "you").IfNoneMatch("*")).status, 200);
  EXPECT_EQ(Read(harness, "/lock"), "200 you");
}

TEST(IfNoneMatchStarTest, WithIfMatchNeverHolds) {
  Harness harness;
  const std::string etag = ETagOf(harness.Send(Post("/k", "v")));
  ExpectPreconditionFailed(harness.Send(Put("/k", "x").IfMatch(etag).IfNoneMatch("*")));
  ExpectPreconditionFailed(harness.Send(Put("/k", "x").IfMatch("*").IfNoneMatch("*")));
  ExpectPreconditionFailed(harness.Send(Put("/new", "x").IfMatch("*").IfNoneMatch("*")));
  EXPECT_EQ(Read(harness, "/k"), "200 v");
  EXPECT_EQ(Read(harness, "/new"), "404 Key not found\n");
}

TEST(ConditionSyntaxTest, MalformedConditionsAre400AndCostNothing) {
  HarnessOptions options;
  options.max_requests = 11;
  Harness harness(options);
  const std::vector<Call> calls = {
      Put("/k", "v").IfMatch("unquoted"),
      Post("/k", "v").IfMatch("\"a\" \"b\""),
      Put("/k", "v").IfMatch("\"1\", \"2\""),  // two versions: the store compares one
      Put("/k", "v").IfNoneMatch("\"1\""),     // on writes only "*"
      Delete("/k").IfMatch("W/"),
      Get("/k").IfNoneMatch("\"open"),
      MethodCall("HEAD", "/k").IfNoneMatch("*, \"1\"")};
  for (int round = 0; round < 5; ++round) {
    for (const Call& call : calls) {
      const Response response = harness.Send(call);
      EXPECT_EQ(response.status, 400) << call.method << " " << call.if_match << call.if_none_match;
      EXPECT_EQ(response.body, "Invalid If-Match or If-None-Match\n");
    }
  }
  EXPECT_EQ(harness.Send(Post("/k", "v")).status, 200);  // the bucket is still full
  // Headers a method does not use are not read.
  EXPECT_EQ(harness.Send(Get("/k").IfMatch("unquoted").Ttl("bad")).status, 200);
  EXPECT_EQ(harness.Send(Delete("/k").IfNoneMatch("bad").Ttl("bad")).status, 204);
}

TEST(DeleteConditionTest, IfMatchGuardsTheDelete) {
  Harness harness;
  const std::string etag = ETagOf(harness.Send(Post("/k", "v")));
  ExpectPreconditionFailed(harness.Send(Delete("/k").IfMatch("\"stale\"")));
  EXPECT_EQ(Read(harness, "/k"), "200 v");
  EXPECT_EQ(harness.Send(Delete("/k").IfMatch(etag)).status, 204);
  ExpectPreconditionFailed(harness.Send(Delete("/k").IfMatch(etag)));
  ExpectPreconditionFailed(harness.Send(Delete("/k").IfMatch("*")));  // 412, not 404
  harness.Send(Post("/k", "again"));
  EXPECT_EQ(harness.Send(Delete("/k").IfMatch("*")).status, 204);
}

TEST(HandlerTtlTest, XTtlShortensTheLifetime) {
  Harness harness;
  for (const char* ttl : {"90", "90s", "1m30s"}) {
    const std::string target = std::string("/t-") + ttl;
    const Response response = harness.Send(Put(target, "v").Ttl(ttl));
    EXPECT_EQ(response.status, 200) << ttl;
    EXPECT_EQ(HeaderValue(response, "X-Expires-In"), "90") << ttl;
  }
  harness.clock().Advance(absl::Seconds(89));
  EXPECT_EQ(HeaderValue(harness.Send(Get("/t-90")), "X-Expires-In"), "1");
  harness.clock().Advance(absl::Seconds(1));
  for (const char* target : {"/t-90", "/t-90s", "/t-1m30s"}) {
    EXPECT_EQ(Read(harness, target), "404 Key not found\n") << target;
  }
}

TEST(HandlerTtlTest, EveryWriteSetsItsOwnLifetime) {
  Harness harness;
  harness.Send(Post("/k", "v").Ttl("10"));
  harness.Send(Post("/k", "v"));  // no X-TTL: the full -expireDuration again
  EXPECT_EQ(HeaderValue(harness.Send(Get("/k")), "X-Expires-In"), "7200");
}

TEST(HandlerTtlTest, LongerThanExpireDurationIsCapped) {
  Harness harness;
  const absl::Time now = harness.clock().Now();
  for (const char* ttl : {"7201", "3h", "99999999999999999999"}) {
    const Response response = harness.Send(Post("/k", "v").Ttl(ttl));
    EXPECT_EQ(HeaderValue(response, "X-Expires-In"), "7200") << ttl;
    EXPECT_EQ(HeaderValue(response, "Expires"), common::FormatHttpDate(now + absl::Hours(2)));
  }
}

TEST(HandlerTtlTest, MalformedZeroAndNegativeAre400AndStoreNothing) {
  Harness harness;
  for (const char* ttl : {"0", "0s", "-5", "-5s", "abc", "inf", "5 s"}) {
    const Response response = harness.Send(Put("/k", "v").Ttl(ttl));
    EXPECT_EQ(response.status, 400) << ttl;
    EXPECT_EQ(response.body, "Invalid X-TTL\n") << ttl;
  }
  EXPECT_EQ(Read(harness, "/k"), "404 Key not found\n");
}

// Many writers hold the same ETag and race to replace it: the store checks the condition and
// writes under one lock, so exactly one wins and its value is the one left.
TEST(CompareAndSwapTest, ExactlyOneOfManyConcurrentWritersWins) {
  constexpr int kWriters = 32;
  Harness harness;
  for (int round = 0; round < 20; ++round) {
    const std::string etag = ETagOf(harness.Send(Post("/cas", "start")));
    std::vector<int> statuses(kWriters);
    std::vector<std::string> etags(kWriters);
    std::latch start(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        const Call call = (i % 2 == 0 ? Put("/cas", "w" + std::to_string(i))
                                      : Post("/cas", "w" + std::to_string(i)))
                              .IfMatch(etag)
                              .From("10.0.0." + std::to_string(i + 1));
        start.arrive_and_wait();
        const Response response = harness.Send(call);
        statuses[i] = response.status;
        etags[i] = ETagOf(response);
      });
    }
    for (std::thread& thread : threads) thread.join();
    int winner = -1;
    for (int i = 0; i < kWriters; ++i) {
      if (statuses[i] == 200) {
        EXPECT_EQ(winner, -1) << "two winners in round " << round;
        winner = i;
      } else {
        EXPECT_EQ(statuses[i], 412) << "writer " << i;
      }
    }
    ASSERT_NE(winner, -1) << "no winner in round " << round;
    const Response read = harness.Send(Get("/cas"));
    EXPECT_EQ(read.body, "w" + std::to_string(winner));
    EXPECT_EQ(ETagOf(read), etags[winner]);
  }
}

TEST(DeferredStoreTest, IfNoneMatchIsKeptUntilTheStoreAnswers) {
  kv::MemoryStore backend(kv::MemoryStore::Options{});
  DeferredStore store(backend);
  Harness harness({}, &store);
  Response write;
  int done_calls = 0;
  const Call post = Post("/k", "v");
  harness.handler().Handle(post.ToRequest(), write, [&done_calls] { ++done_calls; });
  store.RunAll();
  ASSERT_EQ(done_calls, 1);
  const std::string etag = ETagOf(write);

  Call get = Get("/k").IfNoneMatch(etag);
  std::optional<Request> request = get.ToRequest();
  Response read;
  harness.handler().Handle(*request, read, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 1);
  get.if_none_match.assign(etag.size(), '#');  // the connection reuses its buffers
  request.reset();
  store.RunAll();
  EXPECT_EQ(done_calls, 2);
  EXPECT_EQ(read.status, 304);
  EXPECT_EQ(ETagOf(read), etag);
}

TEST(DeferredStoreTest, DeleteCompletesThroughTheCallback) {
  kv::MemoryStore backend(kv::MemoryStore::Options{});
  DeferredStore store(backend);
  Harness harness({}, &store);
  int done_calls = 0;
  Response response;
  const Call post = Post("/k", "v");
  harness.handler().Handle(post.ToRequest(), response, [&done_calls] { ++done_calls; });
  store.RunAll();
  const Call remove = Delete("/k");
  harness.handler().Handle(remove.ToRequest(), response, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 1);
  store.RunAll();
  EXPECT_EQ(done_calls, 2);
  EXPECT_EQ(response.status, 204);
}

TEST(DeferredStoreTest, IfMatchStarOnAWriteIsOneConditionalWrite) {
  // "Only if the key exists" is a store condition, so a store that completes later works too.
  kv::MemoryStore backend(kv::MemoryStore::Options{});
  DeferredStore store(backend);
  Harness harness({}, &store);
  int done_calls = 0;
  Response response;
  harness.handler().Handle(Put("/k", "v").IfMatch("*").ToRequest(), response,
                           [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 0);
  store.RunAll();
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(response.status, 412);  // no such key: never created
  EXPECT_EQ(backend.Size(), 0u);
}

}  // namespace
}  // namespace rendezvous::http

// Handler: value and secret sizes, store capacity and rate limiting as the original server
// answered them (with our differences noted), the localhost warning, and a store that completes
// later.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/handler.h"
#include "http/response.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::DeferredStore;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::HasHeader;
using testing::MethodCall;
using testing::Post;
using testing::Put;
using testing::Read;

// The statuses of `calls`, sent in order, joined with ','.
std::string Statuses(Harness& harness, const std::vector<Call>& calls) {
  std::string out;
  for (const Call& call : calls) {
    if (!out.empty()) out += ",";
    out += std::to_string(harness.Send(call).status);
  }
  return out;
}

TEST(HandlerSizeTest, ValueOverTheLimitIs413AndNotStored) {  // the original answered 400
  Harness harness;
  Response response = harness.Send(Post("/new", std::string(1001, 'v')));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.body, "Value too large\n");
  EXPECT_FALSE(response.close);  // the whole body was read: the connection stays usable
  EXPECT_EQ(Read(harness, "/new"), "404 Key not found\n");
}

TEST(HandlerSizeTest, BodyCutOffByTheConnectionIs413AndCloses) {  // with a 5000-B body
  Harness harness;
  Call call = Post("/new", std::string(1000, 'v'));
  call.body_too_large = true;
  const Response response = harness.Send(call);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.body, "Value too large\n");
  EXPECT_TRUE(response.close);
  EXPECT_EQ(Read(harness, "/new"), "404 Key not found\n");
}

TEST(HandlerSizeTest, OversizeUpdateKeepsTheOldValue) {
  Harness harness;
  harness.Send(Post("/k", "old"));
  EXPECT_EQ(harness.Send(Post("/k", std::string(1001, 'v'))).status, 413);
  EXPECT_EQ(Read(harness, "/k"), "200 old");
}

TEST(HandlerSizeTest, SecretCountsAgainstTheValueLimit) {
  struct Case {
    size_t secret_bytes;
    size_t value_bytes;
    int status;
    std::string_view body;
  };
  const Case cases[] = {
      {10, 990, 200, "OK"},
      {10, 991, 413, "Value plus secret too large\n"},
      {1000, 0, 200, "OK"},
      {1000, 1, 413, "Value plus secret too large\n"},
      {999, 1, 200, "OK"},
      {1001, 0, 413, "Value plus secret too large\n"},
      {7000, 0, 413, "Value plus secret too large\n"},
      {10, 1001, 413, "Value plus secret too large\n"},  // the secret changes the text
  };
  int i = 0;
  for (const Case& c : cases) {
    Harness harness;
    const std::string target = "/s" + std::to_string(i++);
    const Response response = harness.Send(
        Post(target, std::string(c.value_bytes, 'v')).Secret(std::string(c.secret_bytes, 's')));
    EXPECT_EQ(response.status, c.status) << c.secret_bytes << "+" << c.value_bytes;
    EXPECT_EQ(response.body, c.body) << c.secret_bytes << "+" << c.value_bytes;
    if (c.status == 200) {
      EXPECT_EQ(Read(harness, target), "200 " + std::string(c.value_bytes, 'v'));
    } else {
      EXPECT_EQ(Read(harness, target), "404 Key not found\n");
    }
  }
}

TEST(HandlerSizeTest, SizeIsCheckedBeforeTheOwner) {
  Harness harness;
  harness.Send(Post("/owned", "v").Secret("right"));
  Response response = harness.Send(Post("/owned", std::string(1001, 'v')).Secret("wrong"));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.body, "Value plus secret too large\n");
  EXPECT_EQ(harness.Send(Post("/owned", "small").Secret("wrong")).status, 403);

  harness.Send(Post("/unowned", "v"));
  response = harness.Send(Post("/unowned", std::string(1000, 'v')).Secret(std::string(10, 's')));
  EXPECT_EQ(response.body, "Value plus secret too large\n");
  EXPECT_EQ(Read(harness, "/unowned"), "200 v");
}

TEST(HandlerSizeTest, ConfiguredLimitsApply) {
  HarnessOptions options;
  options.handler.max_key_bytes = 5;
  options.handler.max_value_bytes = 3;
  Harness harness(options);
  EXPECT_EQ(harness.Send(Post("/12345", "abc")).status, 200);
  EXPECT_EQ(harness.Send(Post("/123456", "abc")).body, "Key too long\n");
  EXPECT_EQ(harness.Send(Post("/k", "abcd")).body, "Value too large\n");
  EXPECT_EQ(harness.Send(Post("/ip/x", "a")).body, "Key too long\n");
}

TEST(HandlerCapacityTest, NewKeysPastMaxNumKvAre507) {
  HarnessOptions options;
  options.max_entries = 3;
  Harness harness(options);
  EXPECT_EQ(Statuses(harness, {Post("/k1", "1"), Post("/k2", "2"), Post("/k3", "3")}),
            "200,200,200");
  Response response = harness.Send(Post("/k4", "4"));
  EXPECT_EQ(response.status, 507);
  EXPECT_EQ(response.body, "Store capacity reached\n");
  EXPECT_EQ(Read(harness, "/k4"), "404 Key not found\n");
  EXPECT_EQ(harness.Send(Post("/k1", "updated")).status, 200);
  EXPECT_EQ(harness.Send(Post("/k2", "claimed").Secret("mine")).status, 200);
  EXPECT_EQ(harness.Send(Post("/ip/x", "v")).status, 507);
  EXPECT_EQ(harness.Send(Post("/k5", std::string(1001, 'v'))).status, 413);
}

TEST(HandlerCapacityTest, NewKeysPastAClientsQuotaAre429AndOtherClientsAreNot) {
  HarnessOptions options;
  options.handler.max_keys_per_client = 2;
  Harness harness(options);
  EXPECT_EQ(Statuses(harness, {Post("/q1", "1").From("203.0.113.9"),
                               Post("/q2", "2").From("203.0.113.9")}),
            "200,200");
  Response response = harness.Send(Post("/q3", "3").From("203.0.113.9"));
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.body, "Key quota reached: too many live keys from your address\n");
  EXPECT_EQ(Read(harness, "/q3"), "404 Key not found\n");
  EXPECT_EQ(harness.Send(Post("/q1", "updated").From("203.0.113.9")).status, 200);
  EXPECT_EQ(harness.Send(Post("/q3", "3").From("203.0.113.10")).status, 200);
  // IPv6 clients are one client per -ipv6Prefix network (/64 by default).
  EXPECT_EQ(harness.Send(Post("/v1", "1").From("2001:db8::1")).status, 200);
  EXPECT_EQ(harness.Send(Post("/v2", "2").From("2001:db8::2")).status, 200);
  EXPECT_EQ(harness.Send(Post("/v3", "3").From("2001:db8::3")).status, 429);
  EXPECT_EQ(harness.Send(Post("/v3", "3").From("2001:db8:0:1::3")).status, 200);
}

TEST(HandlerCapacityTest, ExpiredKeysAreNotServed) {
  HarnessOptions options;
  options.handler.expire = absl::Seconds(3);
  Harness harness(options);
  harness.Send(Post("/e1", "v"));
  harness.clock().Advance(absl::Seconds(2));
  EXPECT_EQ(Read(harness, "/e1"), "200 v");
  harness.Send(Post("/e1", "refreshed"));  // a POST restarts the lifetime
  harness.clock().Advance(absl::Seconds(2));
  EXPECT_EQ(Read(harness, "/e1"), "200 refreshed");
  harness.clock().Advance(absl::Seconds(1));
  EXPECT_EQ(Read(harness, "/e1"), "404 Key not found\n");
}

HarnessOptions DefaultRateLimit() {
  HarnessOptions options;
  options.max_requests = 11;  // the original's default
  return options;
}

TEST(HandlerRateLimitTest, ThreePostsThenTwoGets) {  // section 4, sequence 1
  Harness harness(DefaultRateLimit());
  EXPECT_EQ(Statuses(harness, {Post("/a", "1"), Post("/a", "2"), Post("/a", "3"), Post("/a", "4"),
                               Get("/a"), Get("/a"), Get("/a"), Get("/a")}),
            "200,200,200,429,200,200,429,429");
}

TEST(HandlerRateLimitTest, TwelfthGetIsRefused) {  // section 4, sequence 2
  Harness harness(DefaultRateLimit());
  std::vector<Call> calls(12, Get("/missing"));
  EXPECT_EQ(Statuses(harness, calls), "404,404,404,404,404,404,404,404,404,404,404,429");
}

TEST(HandlerRateLimitTest, InterleavedGetsAndPosts) {  // section 4, sequence 3
  Harness harness(DefaultRateLimit());
  EXPECT_EQ(Statuses(harness, {Get("/g"), Post("/g", "1"), Get("/g"), Post("/g", "2"), Get("/g"),
                               Post("/g", "3"), Get("/g"), Get("/g"), Get("/g")}),
            "404,200,200,200,200,429,200,200,429");
}

TEST(HandlerRateLimitTest, RefusedAnswersStillCostTokens) {  // section 4, sequences 4 and 5
  Harness oversize(DefaultRateLimit());
  const std::string big(1001, 'v');
  EXPECT_EQ(Statuses(oversize, {Post("/o", big), Post("/o", big), Post("/o", big), Post("/o", big),
                                Get("/o")}),
            "413,413,413,429,404");

  // The original answered PUT (then a no-op) 200 and charged 1 token; here PUT stores and costs
  // 3 like POST, and an unknown method is a 405 that costs 1.
  Harness unknown(DefaultRateLimit());
  std::vector<Call> calls(11, MethodCall("PATCH", "/p"));
  calls.push_back(Get("/p"));
  EXPECT_EQ(Statuses(unknown, calls), "405,405,405,405,405,405,405,405,405,405,405,429");

  Harness wrong(DefaultRateLimit());
  wrong.Send(Post("/w", "v").From("10.9.9.9").Secret("right"));
  EXPECT_EQ(Statuses(wrong, {Post("/w", "x").Secret("bad"), Post("/w", "x").Secret("bad"),
                             Post("/w", "x").Secret("bad"), Post("/w", "x").Secret("bad")}),
            "403,403,403,429");
}

TEST(HandlerRateLimitTest, RefusalIs429WithRetryAfterAndCostsNothing) {  // differs from the original
  Harness harness(DefaultRateLimit());
  for (int i = 0; i < 11; ++i) harness.Send(Get("/x"));
  Response response = harness.Send(Get("/missing"));  // 429, not 404
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.body, "Rate limit\n");
  EXPECT_TRUE(response.nosniff);
  // 11 tokens a minute: one token every 60/11 s = 5.45 s, so 6 whole seconds.
  EXPECT_TRUE(HasHeader(response, "Retry-After: 6\r\n")) << response.extra_headers;
  harness.clock().Advance(absl::Seconds(5));
  EXPECT_EQ(harness.Send(Get("/missing")).status, 429);
  harness.clock().Advance(absl::Seconds(1));
  EXPECT_EQ(harness.Send(Get("/missing")).status, 404);
  EXPECT_EQ(harness.Send(Get("/missing")).status, 429);
}

TEST(HandlerRateLimitTest, PostRetryAfterCountsTheMissingTokens) {
  Harness harness(DefaultRateLimit());
  for (int i = 0; i < 10; ++i) harness.Send(Get("/x"));  // one token left; a POST needs 3
  const Response response = harness.Send(Post("/x", "v"));
  EXPECT_EQ(response.status, 429);
  EXPECT_TRUE(HasHeader(response, "Retry-After: 11\r\n")) << response.extra_headers;
  harness.clock().Advance(absl::Seconds(11));
  EXPECT_EQ(harness.Send(Post("/x", "v")).status, 200);
}

TEST(HandlerRateLimitTest, BucketRefillsContinuously) {
  Harness harness(DefaultRateLimit());
  for (int i = 0; i < 11; ++i) harness.Send(Get("/x"));
  harness.clock().Advance(absl::Minutes(1));
  std::vector<Call> calls(11, Get("/x"));
  calls.push_back(Get("/x"));
  EXPECT_EQ(Statuses(harness, calls), "404,404,404,404,404,404,404,404,404,404,404,429");
}

TEST(HandlerRateLimitTest, KeyErrorsAndTheIndexPageCostNothing) {
  Harness harness(DefaultRateLimit());
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(harness.Send(Get("/" + std::string(101, 'k'))).status, 400);
    EXPECT_EQ(harness.Send(Get("http://x")).status, 400);
    EXPECT_EQ(harness.Send(Post("/ip/", "v")).status, 400);
    EXPECT_EQ(harness.Send(Get("/bad%zz")).status, 400);
    EXPECT_EQ(harness.Send(Get("/")).status, 200);
    EXPECT_EQ(harness.Send(MethodCall("PUT", "/")).status, 405);
    EXPECT_EQ(harness.Send(MethodCall("OPTIONS", "/x")).status, 204);
    EXPECT_EQ(harness.Send(MethodCall("OPTIONS", "/")).status, 204);
    EXPECT_EQ(harness.Send(Put("/x", "v").Ttl("0")).status, 400);
    EXPECT_EQ(harness.Send(Get("/x").IfNoneMatch("unquoted")).status, 400);
  }
  std::vector<Call> calls(11, Get("/x"));
  EXPECT_EQ(Statuses(harness, calls), "404,404,404,404,404,404,404,404,404,404,404");
  EXPECT_EQ(harness.Send(Get("/")).status, 200);  // also when the bucket is empty
}

TEST(HandlerRateLimitTest, BucketsArePerIpv4AddressAndPerIpv6Prefix) {
  Harness harness(DefaultRateLimit());
  for (int i = 0; i < 11; ++i) harness.Send(Get("/x").From("2001:db8:1:2::1"));
  EXPECT_EQ(harness.Send(Get("/x").From("2001:db8:1:2::ffff")).status, 429);  // same /64
  EXPECT_EQ(harness.Send(Get("/x").From("2001:db8:1:3::1")).status, 404);
  for (int i = 0; i < 11; ++i) harness.Send(Get("/x").From("192.0.2.1"));
  EXPECT_EQ(harness.Send(Get("/x").From("::ffff:192.0.2.1")).status, 429);  // mapped = IPv4
  EXPECT_EQ(harness.Send(Get("/x").From("192.0.2.2")).status, 404);
}

TEST(HandlerWarningTest, LoopbackWithoutForwardingWarnsOnceAMinuteEscaped) {
  Harness harness;
  Call call = Get("/a%22b\"c");
  call.loopback_direct = true;
  ::testing::internal::CaptureStderr();
  harness.Send(call);
  harness.Send(call);
  harness.Send(call);
  std::string log = ::testing::internal::GetCapturedStderr();
  std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << log;
  EXPECT_NE(lines[0].find("WARNING"), std::string::npos) << log;
  EXPECT_NE(lines[0].find("request from localhost without X-Forwarded-For (is a reverse proxy"),
            std::string::npos)
      << log;
  EXPECT_NE(lines[0].find("charged to the loopback address"), std::string::npos) << log;
  EXPECT_NE(lines[0].find("GET /a%22b\\\"c"), std::string::npos) << log;

  harness.clock().Advance(absl::Seconds(61));
  ::testing::internal::CaptureStderr();
  harness.Send(call);
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("2 more since the last warning"), std::string::npos) << log;
}

TEST(HandlerWarningTest, AnUnusedForwardedForIsNamedNotCalledMissing) {
  Harness harness;
  Call call = Get("/k");
  call.loopback_direct = true;  // net/ did not use the header: an untrusted peer, or garbage
  call.forwarded_for = "203.0.113.7\n";
  ::testing::internal::CaptureStderr();
  harness.Send(call);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find("without X-Forwarded-For"), std::string::npos) << log;
  EXPECT_NE(log.find("request from localhost with an X-Forwarded-For that was not used (the peer "
                     "is not in -trustedProxies, or the right-most entry is not an IP address): "
                     "\"203.0.113.7\\n\"; charged to the loopback address: GET /k"),
            std::string::npos)
      << log;
}

TEST(HandlerWarningTest, NoWarningWhenDisabledOrForwarded) {
  HarnessOptions options;
  options.handler.warn_localhost = false;
  Harness quiet(options);
  Call call = Get("/k");
  call.loopback_direct = true;
  ::testing::internal::CaptureStderr();
  quiet.Send(call);
  Harness forwarded;
  forwarded.Send(Get("/k"));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(HandlerDeferredStoreTest, CompletesLaterWithoutTouchingTheRequest) {
  kv::MemoryStore backend(kv::MemoryStore::Options{});
  DeferredStore store(backend);
  Harness harness({}, &store);

  Call call = Post("/ip/svc", "payload").From("198.51.100.7");
  std::optional<Request> request = call.ToRequest();
  Response response;
  int done_calls = 0;
  harness.handler().Handle(*request, response, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 0);
  ASSERT_EQ(store.pending(), 1u);
  // The connection may reuse its buffers once the store call returned.
  call = Call();
  call.method.assign(64, '#');
  call.target.assign(64, '#');
  call.body.assign(64, '#');
  request.reset();
  store.RunAll();
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "198.51.100.7");

  Response read;
  const Call get = Get("/ip/198.51.100.7/svc");
  harness.handler().Handle(get.ToRequest(), read, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 1);
  store.RunAll();
  EXPECT_EQ(done_calls, 2);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body, "payload");
}

TEST(HandlerDeferredStoreTest, StoreErrorsArriveThroughTheCallback) {
  kv::MemoryStore backend(kv::MemoryStore::Options{.max_entries = 0});
  DeferredStore store(backend);
  Harness harness({}, &store);
  Response response;
  int done_calls = 0;
  const Call call = Post("/k", "v");
  harness.handler().Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
  store.RunAll();
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(response.status, 507);
  EXPECT_EQ(response.body, "Store capacity reached\n");
}

}  // namespace
}  // namespace rendezvous::http

// Handler: PUT, DELETE, HEAD, OPTIONS (CORS preflight) and the rate-limit headers (issue 6).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/handler.h"
#include "http/response.h"

namespace rendezvous::http {
namespace {

using testing::Call;
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

std::string Statuses(Harness& harness, const std::vector<Call>& calls) {
  std::string out;
  for (const Call& call : calls) {
    if (!out.empty()) out += ",";
    out += std::to_string(harness.Send(call).status);
  }
  return out;
}

std::string Serialized(const Response& response) {
  std::string out;
  AppendResponse(response, "Sun, 06 Nov 1994 08:49:37 GMT", true, 11, out);
  return out;
}

HarnessOptions SeedRateLimit() {
  HarnessOptions options;
  options.max_requests = 11;  // the original's default
  return options;
}

TEST(PutTest, StoresExactlyLikePost) {
  Harness harness;
  const Response response = harness.Send(Put("/k", "hello"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "OK");
  EXPECT_EQ(response.content_type, ContentType::kTextPlain);
  EXPECT_EQ(Read(harness, "/k"), "200 hello");
  EXPECT_EQ(harness.Send(Post("/k", "replaced")).status, 200);
  EXPECT_EQ(harness.Send(Put("/k", "again")).status, 200);
  EXPECT_EQ(Read(harness, "/k"), "200 again");
}

TEST(PutTest, OwnershipIsThatOfPost) {
  Harness harness;
  EXPECT_EQ(harness.Send(Put("/owned", "v1").Secret("s3cret")).status, 200);
  EXPECT_EQ(harness.Send(Put("/owned", "x")).body, "Forbidden: Incorrect secret\n");
  EXPECT_EQ(harness.Send(Post("/owned", "x").Secret("wrong")).status, 403);
  EXPECT_EQ(harness.Send(Put("/owned", "v2").Secret("s3cret")).status, 200);
  EXPECT_EQ(Read(harness, "/owned"), "200 v2");
}

TEST(PutTest, IpKeysAreRewrittenAsForPost) {
  Harness harness;
  EXPECT_EQ(harness.Send(Put("/ip/svc", "info").From("198.51.100.7")).body, "198.51.100.7");
  EXPECT_EQ(Read(harness, "/ip/198.51.100.7/svc"), "200 info");
  EXPECT_EQ(harness.Send(Put("/ip/", "v")).body, "Name is required after /ip/\n");
  EXPECT_EQ(harness.Send(Put("/ip/" + std::string(88, 'n'), "v")).body, "Key too long\n");
}

TEST(PutTest, SizeLimitsAreThoseOfPost) {
  Harness harness;
  EXPECT_EQ(harness.Send(Put("/k", std::string(1001, 'v'))).body, "Value too large\n");
  EXPECT_EQ(harness.Send(Put("/k", std::string(991, 'v')).Secret(std::string(10, 's'))).body,
            "Value plus secret too large\n");
  EXPECT_EQ(harness.Send(Put("/k", std::string(990, 'v')).Secret(std::string(10, 's'))).status,
            200);
}

TEST(PutTest, CostsThreeTokensLikePost) {
  Harness harness(SeedRateLimit());
  EXPECT_EQ(Statuses(harness, {Put("/a", "1"), Put("/a", "2"), Put("/a", "3"), Put("/a", "4"),
                               Get("/a"), Get("/a"), Get("/a")}),
            "200,200,200,429,200,200,429");
}

TEST(DeleteTest, RemovesAKeyAndAnswers204WithoutABody) {
  Harness harness;
  harness.Send(Post("/k", "v"));
  const Response response = harness.Send(Delete("/k"));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.content_type, ContentType::kNone);
  EXPECT_EQ(Read(harness, "/k"), "404 Key not found\n");
  const Response again = harness.Send(Delete("/k"));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.body, "Key not found\n");
}

TEST(DeleteTest, AnOwnedKeyNeedsItsSecret) {
  Harness harness;
  harness.Send(Post("/owned", "v").Secret("right"));
  EXPECT_EQ(harness.Send(Delete("/owned")).body, "Forbidden: Incorrect secret\n");
  EXPECT_EQ(harness.Send(Delete("/owned").Secret("wrong")).status, 403);
  EXPECT_EQ(Read(harness, "/owned"), "200 v");
  EXPECT_EQ(harness.Send(Delete("/owned").Secret("right")).status, 204);
  // The claim went with the key: anyone may claim the name again.
  EXPECT_EQ(harness.Send(Post("/owned", "new").Secret("other")).status, 200);
}

TEST(DeleteTest, AnUnownedKeyNeedsNoSecret) {
  Harness harness;
  harness.Send(Post("/free", "v"));
  EXPECT_EQ(harness.Send(Delete("/free").Secret("anything")).status, 204);
}

TEST(DeleteTest, IpKeysOnlyFromTheirAddress) {
  Harness harness;
  harness.Send(Post("/ip/svc", "v").From("198.51.100.7"));
  const Response refused = harness.Send(Delete("/ip/198.51.100.7/svc").From("198.51.100.8"));
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, "Forbidden: key belongs to another address\n");
  EXPECT_EQ(Read(harness, "/ip/198.51.100.7/svc"), "200 v");
  EXPECT_EQ(harness.Send(Delete("/ip/198.51.100.7/svc").From("198.51.100.7")).status, 204);
  EXPECT_EQ(harness.Send(Delete("/ip/198.51.100.7/svc").From("198.51.100.7")).status, 404);
  // An IPv4-mapped client is its IPv4 address.
  harness.Send(Post("/ip/m", "v").From("192.0.2.1"));
  EXPECT_EQ(harness.Send(Delete("/ip/192.0.2.1/m").From("::ffff:192.0.2.1")).status, 204);
}

TEST(DeleteTest, Ipv6IpKeysFromAnyAddressOfTheirPrefix) {
  Harness harness;  // -ipv6Prefix 64
  EXPECT_EQ(harness.Send(Post("/ip/a", "v").From("2001:db8:1:2::1")).body, "2001:db8:1:2::1");
  harness.Send(Post("/ip/b", "v").From("2001:db8:1:2::1"));
  EXPECT_EQ(harness.Send(Delete("/ip/2001:db8:1:2::1/a").From("2001:db8:1:3::1")).status, 403);
  EXPECT_EQ(harness.Send(Delete("/ip/2001:db8:1:2::1/a").From("2001:db8:1:2::ffff")).status, 204);
  EXPECT_EQ(harness.Send(Delete("/ip/2001:db8:1:2::1/b").From("2001:db8:1:2::1")).status, 204);
}

TEST(DeleteTest, IpKeysWithoutAnAddressAreTheClientsOwn) {
  Harness harness;
  for (const char* target : {"/ip/name/x", "/ip/127.0.0.1x/y", "/ip/127.0.0.01/x"}) {
    harness.Send(Post(target, "v"));
    EXPECT_EQ(harness.Send(Delete(target)).status, 204) << target;
    EXPECT_EQ(harness.Send(Delete(target)).status, 404) << target;
  }
  EXPECT_EQ(harness.Send(Delete("/ip/")).body, "Name is required after /ip/\n");
  // Only the exact lower-case prefix is special, as for the rewrite.
  harness.Send(Post("/IP/x", "v"));
  EXPECT_EQ(harness.Send(Delete("/IP/x")).status, 204);
}

TEST(DeleteTest, OwnedIpKeysNeedTheAddressAndTheSecret) {
  Harness harness;
  harness.Send(Post("/ip/svc", "v").Secret("s"));
  EXPECT_EQ(harness.Send(Delete("/ip/127.0.0.1/svc")).status, 403);
  EXPECT_EQ(harness.Send(Delete("/ip/127.0.0.1/svc").Secret("s").From("10.0.0.1")).status, 403);
  EXPECT_EQ(harness.Send(Delete("/ip/127.0.0.1/svc").Secret("s")).status, 204);
}

TEST(DeleteTest, CostsThreeTokens) {
  Harness harness(SeedRateLimit());
  EXPECT_EQ(Statuses(harness, {Delete("/a"), Delete("/a"), Delete("/a"), Delete("/a"), Get("/a"),
                               Get("/a"), Get("/a")}),
            "404,404,404,429,404,404,429");
}

TEST(HeadTest, HasTheHeadersOfGet) {
  Harness harness;
  harness.Send(Post("/k", "hello world"));
  const Response get = harness.Send(Get("/k"));
  const Response head = harness.Send(MethodCall("HEAD", "/k"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head);
  EXPECT_EQ(head.body.size(), get.body.size());
  EXPECT_EQ(head.content_type, get.content_type);
  for (const char* name : {"ETag", "Expires", "X-Expires-In", "Cache-Control", "RateLimit-Limit"}) {
    EXPECT_EQ(HeaderValue(head, name), HeaderValue(get, name)) << name;
    EXPECT_NE(HeaderValue(head, name), "") << name;
  }
  EXPECT_EQ(Serialized(head).find("hello world"), std::string::npos);
}

// What a browser sends before a cross-origin PUT with an owner secret and a condition.
Call BrowserPreflight(std::string target) {
  Call call = MethodCall("OPTIONS", std::move(target));
  call.origin = "https://app.example";
  // Access-Control-Request-Method: PUT and Access-Control-Request-Headers:
  // x-owner-secret,if-match come too; the answer does not depend on them.
  return call;
}

TEST(PreflightTest, AllowsEveryMethodAndRequestHeaderABrowserAsksFor) {
  Harness harness;
  const Response response = harness.Send(BrowserPreflight("/room-42"));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.content_type, ContentType::kNone);
  EXPECT_EQ(HeaderValue(response, "Access-Control-Allow-Methods"),
            "GET, HEAD, POST, PUT, DELETE, OPTIONS");
  EXPECT_EQ(HeaderValue(response, "Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS");
  // Browsers compare request header names case-insensitively with this list.
  EXPECT_EQ(HeaderValue(response, "Access-Control-Allow-Headers"),
            "X-Owner-Secret, If-Match, If-None-Match, X-TTL, Content-Type");
  EXPECT_EQ(HeaderValue(response, "Access-Control-Max-Age"), "86400");
  const std::string wire = Serialized(response);
  EXPECT_NE(wire.find("\r\nAccess-Control-Allow-Origin: *\r\n"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << wire;
}

TEST(PreflightTest, OnTheIndexPageListsItsMethods) {
  Harness harness;
  const Response response = harness.Send(BrowserPreflight("/"));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(HeaderValue(response, "Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(HeaderValue(response, "Allow"), "GET, HEAD, OPTIONS");
}

TEST(PreflightTest, CostsNoTokenAndChangesNothing) {
  Harness harness(SeedRateLimit());
  harness.Send(Post("/k", "v"));
  for (int i = 0; i < 8; ++i) harness.Send(Get("/k"));
  EXPECT_EQ(harness.Send(Get("/k")).status, 429);
  for (int i = 0; i < 50; ++i) {
    const Response response = harness.Send(BrowserPreflight("/k"));
    EXPECT_EQ(response.status, 204);
    EXPECT_FALSE(HasHeader(response, "RateLimit-")) << response.extra_headers;
  }
  harness.clock().Advance(absl::Seconds(6));
  EXPECT_EQ(Read(harness, "/k"), "200 v");
}

TEST(PreflightTest, IsStillBoundByTheKeyChecks) {
  Harness harness;
  EXPECT_EQ(harness.Send(BrowserPreflight("/" + std::string(101, 'k'))).body, "Key too long\n");
  EXPECT_EQ(harness.Send(BrowserPreflight("/bad%zz")).status, 400);
  EXPECT_EQ(harness.Send(BrowserPreflight("http://host")).body, "Key is required\n");
  // "OPTIONS *" names no key: it asks about the server (204 with Allow, no CORS preflight).
  const Response asterisk = harness.Send(BrowserPreflight("*"));
  EXPECT_EQ(asterisk.status, 204);
  EXPECT_EQ(asterisk.extra_headers, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n");
  EXPECT_EQ(harness.Send(BrowserPreflight("/ip/")).status, 204);  // no rewrite: not a write
}

TEST(CorsTest, EveryKindOfAnswerAllowsAnyOrigin) {
  Harness harness(SeedRateLimit());
  std::vector<Response> responses;
  responses.push_back(harness.Send(Post("/k", "v")));
  responses.push_back(harness.Send(Get("/k")));
  responses.push_back(harness.Send(Get("/missing")));
  responses.push_back(harness.Send(Delete("/k")));
  responses.push_back(harness.Send(Get("/k")));
  responses.push_back(harness.Send(Get("/")));
  responses.push_back(harness.Send(MethodCall("PATCH", "/")));
  responses.push_back(harness.Send(Get("/" + std::string(101, 'k'))));
  responses.push_back(harness.Send(Post("/k", "v")));  // 429 by now
  EXPECT_EQ(responses.back().status, 429);
  for (const Response& response : responses) {
    const std::string wire = Serialized(response);
    EXPECT_NE(wire.find("\r\nAccess-Control-Allow-Origin: *\r\n"), std::string::npos) << wire;
    EXPECT_NE(wire.find("\r\nAccess-Control-Expose-Headers: ETag, Expires, X-Expires-In, "
                        "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After\r\n"),
              std::string::npos)
        << wire;
  }
}

TEST(HandlerRateLimitHeadersTest, OnEveryAnswerThatWentThroughTheLimiter) {
  Harness harness(SeedRateLimit());  // 11 tokens, one every 60/11 s = 5.45 s
  Response response = harness.Send(Get("/missing"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(HeaderValue(response, "RateLimit-Limit"), "11");
  EXPECT_EQ(HeaderValue(response, "RateLimit-Remaining"), "10");
  EXPECT_EQ(HeaderValue(response, "RateLimit-Reset"), "6");
  EXPECT_FALSE(HasHeader(response, "Retry-After"));

  response = harness.Send(Post("/k", "v"));
  EXPECT_EQ(HeaderValue(response, "RateLimit-Remaining"), "7");
  EXPECT_EQ(HeaderValue(response, "RateLimit-Reset"), "22");  // 4 tokens: 21.8 s

  response = harness.Send(MethodCall("PATCH", "/k"));  // 405 went through the limiter too
  EXPECT_EQ(HeaderValue(response, "RateLimit-Remaining"), "6");

  for (int i = 0; i < 6; ++i) harness.Send(Get("/k"));
  response = harness.Send(Post("/k", "v"));
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(HeaderValue(response, "RateLimit-Limit"), "11");
  EXPECT_EQ(HeaderValue(response, "RateLimit-Remaining"), "0");
  EXPECT_EQ(HeaderValue(response, "RateLimit-Reset"), "60");
  EXPECT_EQ(HeaderValue(response, "Retry-After"), "17");  // 3 tokens: 16.4 s
}

TEST(HandlerRateLimitHeadersTest, NotOnAnswersThatCostNothing) {
  Harness harness(SeedRateLimit());
  for (const Call& call : {Get("/"), MethodCall("PUT", "/"), Get("/" + std::string(101, 'k')),
                           Post("/ip/", "v"), Put("/k", "v").Ttl("0")}) {
    const Response response = harness.Send(call);
    EXPECT_FALSE(HasHeader(response, "RateLimit-")) << call.method << " " << call.target;
  }
}

}  // namespace
}  // namespace rendezvous::http

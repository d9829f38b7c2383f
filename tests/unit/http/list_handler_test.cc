// GET /ip/*/NAME through the public Router, on a real MemoryStore and Limiter.
#include "http/list_handler.h"

#include <string>

#include "handler_harness.h"
#include "http/json.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::MethodCall;
using testing::Post;

// The value of header `name` in `response` ("" when absent).
std::string Header(const Response& response, std::string_view name) {
  const std::string prefix = std::string(name) + ": ";
  const size_t at = response.extra_headers.find(prefix);
  if (at == std::string::npos) return "";
  const size_t start = at + prefix.size();
  return response.extra_headers.substr(start, response.extra_headers.find("\r\n", start) - start);
}

// Announces `name` with `value` from `address` (POST /ip/NAME) and returns the write's ETag.
std::string Announce(Harness& harness, std::string_view address, std::string_view name,
                     std::string value) {
  const Response response =
      harness.Send(Post("/ip/" + std::string(name), std::move(value)).From(std::string(address)));
  EXPECT_EQ(response.status, 200) << response.body;
  return Header(response, "ETag");
}

// The JSON string of an ETag such as "\"1f\"".
std::string Quoted(std::string_view etag) {
  std::string out;
  AppendJsonString(etag, out);
  return out;
}

TEST(ListHandlerTest, ListsEveryAnnouncerOfANameWithoutKnowingTheirAddresses) {
  Harness harness;
  const std::string a = Announce(harness, "203.0.113.1", "chat", "hello");
  const std::string b = Announce(harness, "2001:db8::2", "chat", "world");
  Announce(harness, "203.0.113.3", "other", "x");
  ASSERT_EQ(harness.Send(Post("/plain", "x")).status, 200);
  harness.clock().Advance(absl::Seconds(10));

  const Response response = harness.Send(Get("/ip/*/chat").From("198.51.100.9"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kJson);
  EXPECT_EQ(response.body,
            "{\"name\":\"chat\",\"total\":2,\"peers\":["
            "{\"address\":\"2001:db8::2\",\"value\":\"world\",\"etag\":" +
                Quoted(b) +
                ",\"expires_in\":7190},"
                "{\"address\":\"203.0.113.1\",\"value\":\"hello\",\"etag\":" +
                Quoted(a) + ",\"expires_in\":7190}]}\n");
  EXPECT_NE(Header(response, "ETag"), "");
  EXPECT_EQ(Header(response, "Cache-Control"), "no-store");
  EXPECT_NE(Header(response, "RateLimit-Remaining"), "");
}

TEST(ListHandlerTest, AnUnknownNameIsAnEmptyListing) {
  Harness harness;
  const Response response = harness.Send(Get("/ip/*/nobody"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"name\":\"nobody\",\"total\":0,\"peers\":[]}\n");
}

TEST(ListHandlerTest, ValuesAreEscapedJsonStringsAndNonUtf8ValuesBase64) {
  Harness harness;
  Announce(harness, "10.0.0.1", "n", std::string("q\"b\\n\nt\tc\x01\x7f\xc3\xa9<", 14));
  Announce(harness, "10.0.0.2", "n",
           std::string("\xff\x00"
                       "a",
                       3));
  const Response response = harness.Send(Get("/ip/*/n"));
  ASSERT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\"value\":\"q\\\"b\\\\n\\nt\\tc\\u0001\\u007f\xc3\xa9<\""),
            std::string::npos)
      << response.body;
  EXPECT_NE(response.body.find("\"value_base64\":\"/wBh\""), std::string::npos) << response.body;
}

TEST(ListHandlerTest, TheNameIsPercentDecodedAndGivenInBase64WhenItIsNotUtf8) {
  Harness harness;
  Announce(harness, "10.0.0.1", "%FFx", "v");
  Announce(harness, "10.0.0.1", "a%2Fb", "v");
  EXPECT_TRUE(
      harness.Send(Get("/ip/*/%ffx")).body.starts_with("{\"name_base64\":\"/3g=\",\"total\":1,"));
  // A slash belongs to the name, encoded or not.
  EXPECT_NE(harness.Send(Get("/ip/*/a/b")).body.find("\"total\":1"), std::string::npos);
  EXPECT_NE(harness.Send(Get("/ip/*/a%2Fb")).body.find("\"total\":1"), std::string::npos);
}

TEST(ListHandlerTest, ALimitGivesASampleAndTheExactTotal) {
  Harness harness;
  for (int i = 1; i <= 5; ++i) Announce(harness, "10.0.0." + std::to_string(i), "n", "v");
  const Response response = harness.Send(Get("/ip/*/n?limit=2"));
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\"total\":5"), std::string::npos);
  size_t peers = 0;
  for (size_t at = 0; (at = response.body.find("\"address\"", at)) != std::string::npos; ++at) {
    ++peers;
  }
  EXPECT_EQ(peers, 2u);
  EXPECT_EQ(harness.Send(Get("/ip/*/n?x=1&limit=0")).body,
            "{\"name\":\"n\",\"total\":5,\"peers\":[]}\n");
}

TEST(ListHandlerTest, AMalformedOrOutOfRangeLimitIs400AndCostsNoToken) {
  HarnessOptions options;
  options.max_requests = 1;
  Harness harness(options);
  for (const char* target : {"/ip/*/n?limit=", "/ip/*/n?limit=abc", "/ip/*/n?limit=-1",
                             "/ip/*/n?limit=1001", "/ip/*/n?limit=99999", "/ip/*/n?limit=1.5"}) {
    const Response response = harness.Send(Get(target));
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(response.body, "Invalid limit: a whole number from 0 to 1000\n") << target;
    EXPECT_EQ(Header(response, "RateLimit-Remaining"), "") << target;
  }
  EXPECT_EQ(harness.Send(Get("/ip/*/n?limit=1000")).status, 200);  // the one token
}

TEST(ListHandlerTest, AListingCostsOneTokenLikeAGet) {
  HarnessOptions options;
  options.max_requests = 2;
  Harness harness(options);
  EXPECT_EQ(harness.Send(Get("/ip/*/n")).status, 200);
  EXPECT_EQ(harness.Send(Get("/ip/*/n")).status, 200);
  const Response refused = harness.Send(Get("/ip/*/n"));
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(Header(refused, "Retry-After"), "");
}

TEST(ListHandlerTest, HeadAnswersTheHeadersOfAGet) {
  Harness harness;
  Announce(harness, "10.0.0.1", "n", "v");
  const Response get = harness.Send(Get("/ip/*/n"));
  const Response head = harness.Send(MethodCall("HEAD", "/ip/*/n"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head);
  EXPECT_EQ(head.content_type, ContentType::kJson);
  EXPECT_EQ(head.body.size(), get.body.size());  // Content-Length; AppendResponse drops the body
  EXPECT_EQ(Header(head, "ETag"), Header(get, "ETag"));
}

TEST(ListHandlerTest, IfNoneMatchWithTheListingsETagIs304UntilTheListingChanges) {
  Harness harness;
  Announce(harness, "10.0.0.1", "n", "v");
  const std::string etag = Header(harness.Send(Get("/ip/*/n")), "ETag");
  const Response same = harness.Send(Get("/ip/*/n").IfNoneMatch(etag));
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(Header(same, "ETag"), etag);

  Announce(harness, "10.0.0.1", "n", "changed");
  EXPECT_EQ(harness.Send(Get("/ip/*/n").IfNoneMatch(etag)).status, 200);
  const std::string updated = Header(harness.Send(Get("/ip/*/n")), "ETag");
  EXPECT_NE(updated, etag);
  Announce(harness, "10.0.0.2", "n", "second");
  EXPECT_EQ(harness.Send(Get("/ip/*/n").IfNoneMatch(updated)).status, 200);
  EXPECT_EQ(harness.Send(MethodCall("DELETE", "/ip/n").From("10.0.0.2")).status, 204);
  EXPECT_EQ(harness.Send(Get("/ip/*/n").IfNoneMatch(updated)).status, 304);
  EXPECT_EQ(harness.Send(Get("/ip/*/n").IfNoneMatch("not a tag")).status, 400);
}

TEST(ListHandlerTest, AnExpiredAnnouncerIsNotListed) {
  Harness harness;
  Call short_lived = Post("/ip/n", "v").From("10.0.0.1");
  short_lived.Ttl("5s");
  ASSERT_EQ(harness.Send(short_lived).status, 200);
  Announce(harness, "10.0.0.2", "n", "v");
  const std::string etag = Header(harness.Send(Get("/ip/*/n")), "ETag");
  harness.clock().Advance(absl::Seconds(5));
  const Response response = harness.Send(Get("/ip/*/n").IfNoneMatch(etag));
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\"total\":1"), std::string::npos);
  EXPECT_EQ(response.body.find("10.0.0.1"), std::string::npos);
}

TEST(ListHandlerTest, NamesAreCheckedAsKeysAre) {
  HarnessOptions options;
  options.handler.max_key_bytes = 10;
  Harness harness(options);
  EXPECT_EQ(harness.Send(Get("/ip/*/")).status, 400);
  EXPECT_EQ(harness.Send(Get("/ip/*/%zz")).status, 400);
  EXPECT_EQ(harness.Send(Get("/ip/*/" + std::string(11, 'n'))).body, "Key too long\n");
  EXPECT_EQ(harness.Send(Get("/ip/*/" + std::string(10, 'n'))).status, 200);
}

TEST(ListHandlerTest, OnlyGetHeadAndOptionsAreAnswered) {
  Harness harness;
  const Response post = harness.Send(Post("/ip/*/n", "v"));
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "Allow"), "GET, HEAD, OPTIONS");
  const Response options = harness.Send(MethodCall("OPTIONS", "/ip/*/n"));
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(Header(options, "Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(Header(options, "RateLimit-Remaining"), "");
}

TEST(ListHandlerTest, ParsesTheLimitParameter) {
  EXPECT_EQ(ParseListLimit("/ip/*/n"), kDefaultListLimit);
  EXPECT_EQ(ParseListLimit("/ip/*/n?wait=5"), kDefaultListLimit);
  EXPECT_EQ(ParseListLimit("/ip/*/n?limit=7&limit=9"), 7u);
  EXPECT_EQ(ParseListLimit("/ip/*/n?limit=0007"), 7u);
  EXPECT_EQ(ParseListLimit("/ip/*/n?limit=7#frag"), 7u);
  EXPECT_EQ(ParseListLimit("/ip/*/n?limit=+7"), std::nullopt);
  EXPECT_EQ(ParseListLimit("/ip/*/n?limit=1001"), std::nullopt);
}

TEST(JsonTest, ValidatesUtf8Strictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // cut off
  EXPECT_FALSE(IsValidUtf8("\x80"));              // a continuation alone
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
}

TEST(JsonTest, Base64UsesTheStandardAlphabetWithPadding) {
  const auto b64 = [](std::string_view in) {
    std::string out;
    AppendBase64(in, out);
    return out;
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("\xfb\xff"), "+/8=");
}

}  // namespace
}  // namespace rendezvous::http

// Handler: routing, keys, GET/HEAD/POST, ownership and /ip/ keys, as the original server answered
// them, with our differences (docs/compatibility.md).
#include "http/handler.h"

#include <string>

#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/response.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Delete;
using testing::Get;
using testing::Harness;
using testing::HasHeader;
using testing::MethodCall;
using testing::Post;

class HandlerTest : public ::testing::Test {
 protected:
  Response Send(const Call& call) { return harness_.Send(call); }
  // The status and body of a GET of `target`.
  std::string Read(std::string target) {
    const Response response = Send(Get(std::move(target)));
    return std::to_string(response.status) + " " + response.body;
  }

  Harness harness_;
};

void ExpectOk(const Response& response) {
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "OK");
  EXPECT_EQ(response.content_type, ContentType::kTextPlain);
  EXPECT_FALSE(response.nosniff);
}

void ExpectError(const Response& response, int status, std::string_view body) {
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.body, body);
  EXPECT_EQ(response.content_type, ContentType::kTextPlain);
  EXPECT_TRUE(response.nosniff);
}

TEST_F(HandlerTest, PostStoresAndGetReturnsTheExactBytes) {
  ExpectOk(Send(Post("/k", "hello world")));
  const Response response = Send(Get("/k"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kOctetStream);
  EXPECT_EQ(response.body, "hello world");
  EXPECT_FALSE(response.head);
  EXPECT_FALSE(response.close);
}

TEST_F(HandlerTest, GetOfAMissingKeyIs404) {
  ExpectError(Send(Get("/missing")), 404, "Key not found\n");
}

TEST_F(HandlerTest, KeyOfExactlyTheLimitWorks) {
  const std::string key(100, 'a');
  ExpectOk(Send(Post("/" + key, "v100")));
  EXPECT_EQ(Read("/" + key), "200 v100");
}

TEST_F(HandlerTest, KeyOverTheLimitIs400ForEveryMethod) {
  const std::string target = "/" + std::string(101, 'a');
  ExpectError(Send(Post(target, "v")), 400, "Key too long\n");
  ExpectError(Send(Get(target)), 400, "Key too long\n");
  ExpectError(Send(MethodCall("PUT", target)), 400, "Key too long\n");
  ExpectError(Send(MethodCall("DELETE", target)), 400, "Key too long\n");
  ExpectError(Send(MethodCall("OPTIONS", target)), 400, "Key too long\n");
}

TEST_F(HandlerTest, KeyLengthCountsDecodedBytes) {
  ExpectOk(Send(Post("/%20" + std::string(98, 'c'))));
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "%C3%A9";
  ExpectOk(Send(Post("/" + fifty)));
  ExpectError(Send(Post("/" + fifty + "%C3%A9")), 400, "Key too long\n");
}

TEST_F(HandlerTest, ValueOfExactlyTheLimitRoundTrips) {
  const std::string value(1000, 'v');
  ExpectOk(Send(Post("/big", value)));
  EXPECT_EQ(Send(Get("/big")).body, value);
}

TEST_F(HandlerTest, EmptyValuesAreAllowed) {
  ExpectOk(Send(Post("/empty", "")));
  const Response response = Send(Get("/empty"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kOctetStream);
  EXPECT_EQ(response.body, "");
}

TEST_F(HandlerTest, BinaryValuesRoundTrip) {
  const std::string value(
      "a\0b\0\0c\xff\xfe\r\n\x01"
      "end",
      14);
  ExpectOk(Send(Post("/bin", value)));
  EXPECT_EQ(Send(Get("/bin")).body, value);
}

TEST_F(HandlerTest, OwnerSecretProtectsUpdates) {
  ExpectOk(Send(Post("/owned", "v1").Secret("s3cret")));
  EXPECT_EQ(Read("/owned"), "200 v1");
  ExpectOk(Send(Post("/owned", "v2").Secret("s3cret")));
  EXPECT_EQ(Read("/owned"), "200 v2");
  ExpectError(Send(Post("/owned", "x").Secret("wrong")), 403, "Forbidden: Incorrect secret\n");
  ExpectError(Send(Post("/owned", "x")), 403, "Forbidden: Incorrect secret\n");
  EXPECT_EQ(Read("/owned"), "200 v2");
}

TEST_F(HandlerTest, ASecretClaimsAnUnownedKey) {
  ExpectOk(Send(Post("/free", "v")));
  ExpectOk(Send(Post("/free", "w").Secret("claim")));
  ExpectError(Send(Post("/free", "x")), 403, "Forbidden: Incorrect secret\n");
  ExpectError(Send(Post("/free", "x").Secret("other")), 403, "Forbidden: Incorrect secret\n");
  ExpectOk(Send(Post("/free", "y").Secret("claim")));
  EXPECT_EQ(Read("/free"), "200 y");
}

TEST_F(HandlerTest, PostToIpStoresUnderTheClientAddress) {
  const Response response = Send(Post("/ip/service1", "my-server-info"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kTextPlain);
  EXPECT_EQ(response.body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1/service1"), "200 my-server-info");
  EXPECT_EQ(Read("/ip/service1"), "200 my-server-info");  // GET reads the client's own key too
  EXPECT_EQ(Read("/ip/service1"), Read("/ip/127.0.0.1/service1"));
}

TEST_F(HandlerTest, GetAndDeleteOfIpNameActOnTheClientsOwnKey) {
  EXPECT_EQ(Send(Post("/ip/svc", "mine")).status, 200);
  EXPECT_EQ(Send(Post("/ip/svc", "theirs").From("198.51.100.7")).body, "198.51.100.7");
  EXPECT_EQ(Read("/ip/svc"), "200 mine");
  EXPECT_EQ(Send(Get("/ip/svc").From("198.51.100.7")).body, "theirs");
  EXPECT_EQ(Send(MethodCall("HEAD", "/ip/svc").From("198.51.100.7")).status, 200);
  EXPECT_EQ(Send(Delete("/ip/svc")).status, 204);
  EXPECT_EQ(Read("/ip/svc"), "404 Key not found\n");
  EXPECT_EQ(Read("/ip/198.51.100.7/svc"), "200 theirs");  // someone's key, by its address
}

TEST_F(HandlerTest, OnlyAnAddressInTheSecondSegmentNamesSomeonesKey) {
  EXPECT_EQ(Send(Post("/ip/a/b", "own")).status, 200);
  EXPECT_EQ(Read("/ip/a/b"), "200 own");  // "a" is no address: a name of the client's own
  EXPECT_EQ(Send(Post("/ip/127.0.0.01/x", "own2")).status, 200);  // not the strict form: a name too
  EXPECT_EQ(Read("/ip/127.0.0.01/x"), "200 own2");
  EXPECT_EQ(Send(Post("/ip/1.2.3.4", "own3")).status, 200);  // an address without a '/' after it: a name
  EXPECT_EQ(Read("/ip/1.2.3.4"), "200 own3");
}

TEST_F(HandlerTest, GetIpSlashAnswersTheClientsAddress) {
  const Response response = Send(Get("/ip/").From("2001:db8::7"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kTextPlain);
  EXPECT_EQ(response.body, "2001:db8::7");
  EXPECT_EQ(Read("/ip/"), "200 127.0.0.1");
  EXPECT_EQ(Send(Delete("/ip/")).body, "Name is required after /ip/\n");
}

TEST_F(HandlerTest, PostToIpWithoutANameIs400) {  // the original stored "ip/"
  ExpectError(Send(Post("/ip/", "ipslash")), 400, "Name is required after /ip/\n");
  EXPECT_EQ(Read("/ip/"), "200 127.0.0.1");  // GET /ip/ is the client's address
}

TEST_F(HandlerTest, IpRewriteNeedsTheExactLowerCasePrefixAndPost) {
  ExpectOk(Send(Post("/ip", "x")));
  ExpectOk(Send(Post("/IP/service1", "x")));
  EXPECT_EQ(Read("/IP/service1"), "200 x");
}

TEST_F(HandlerTest, IpRewriteKeepsTheRestAsIs) {
  EXPECT_EQ(Send(Post("/ip/a/b/c", "1")).body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1/a/b/c"), "200 1");
  EXPECT_EQ(Send(Post("/ip/1.2.3.4/x", "2")).body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1/1.2.3.4/x"), "200 2");
  EXPECT_EQ(Read("/ip/1.2.3.4/x"), "404 Key not found\n");
  EXPECT_EQ(Send(Post("/ip//x", "3")).body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1//x"), "200 3");
}

TEST_F(HandlerTest, IpRewriteAppliesToTheDecodedKey) {
  EXPECT_EQ(Send(Post("/ip%2Fsvc", "v")).body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1/svc"), "200 v");
}

TEST_F(HandlerTest, IpRewriteMustFitTheKeyLimitSoEveryKeyIsReadable) {  // differs from the original
  // "ip/127.0.0.1/" is 13 bytes: an 87-byte name makes a 100-byte key, 88 one too many.
  const std::string fits(87, 'n');
  EXPECT_EQ(Send(Post("/ip/" + fits, "v")).body, "127.0.0.1");
  EXPECT_EQ(Read("/ip/127.0.0.1/" + fits), "200 v");
  ExpectError(Send(Post("/ip/" + fits + "n", "v")), 400, "Key too long\n");
  ExpectError(Send(Post("/ip/" + std::string(97, 'n'), "v")), 400, "Key too long\n");
}

TEST_F(HandlerTest, IpKeysOfIpv6ClientsUseTheCanonicalText) {
  const Response response = Send(Post("/ip/svc", "v6").From("2001:0db8:0:0:0:0:0:1"));
  EXPECT_EQ(response.body, "2001:db8::1");
  EXPECT_EQ(Read("/ip/2001:db8::1/svc"), "200 v6");
}

TEST_F(HandlerTest, IpKeysOfMappedClientsAreTheIpv4Keys) {
  EXPECT_EQ(Send(Post("/ip/svc", "m").From("::ffff:1.2.3.4")).body, "1.2.3.4");
  EXPECT_EQ(Read("/ip/1.2.3.4/svc"), "200 m");
}

TEST_F(HandlerTest, UnknownMethodsOnKeysAre405WithAllow) {  // differs from the original
  ExpectOk(Send(Post("/mk", "kept")));
  for (const char* method : {"PATCH", "FOO", "post", "get", "put", "delete", "options"}) {
    const Response response = Send(MethodCall(method, "/mk"));
    ExpectError(response, 405, "Method Not Allowed\n");
    EXPECT_TRUE(HasHeader(response, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n")) << method;
  }
  ExpectError(Send(MethodCall("PATCH", "/ip/svc3")), 405, "Method Not Allowed\n");
  EXPECT_EQ(Read("/mk"), "200 kept");
  EXPECT_EQ(Read("/ip/127.0.0.1/svc3"), "404 Key not found\n");
}

TEST_F(HandlerTest, HeadIsGetWithoutTheBody) {  // the original said 200 for a missing key
  ExpectOk(Send(Post("/hk", "hello world")));
  Response response = Send(MethodCall("HEAD", "/hk"));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.head);
  EXPECT_EQ(response.content_type, ContentType::kOctetStream);
  EXPECT_EQ(response.body.size(), 11u);  // the Content-Length; AppendResponse sends no body

  response = Send(MethodCall("HEAD", "/nokey"));
  EXPECT_EQ(response.status, 404);
  EXPECT_TRUE(response.head);
}

TEST_F(HandlerTest, DecodedKeysAreTheSameKeys) {
  ExpectOk(Send(Post("/a%20b", "space")));
  EXPECT_EQ(Read("/a%20b"), "200 space");
  EXPECT_EQ(Read("/a+b"), "404 Key not found\n");
  ExpectOk(Send(Post("/a%2Fb", "encslash")));
  EXPECT_EQ(Read("/a/b"), "200 encslash");
  EXPECT_EQ(Read("/a%2fb"), "200 encslash");
  ExpectOk(Send(Post("/qk?x=1", "withquery")));
  EXPECT_EQ(Read("/qk"), "200 withquery");
  EXPECT_EQ(Read("/qk?y=2"), "200 withquery");
  ExpectOk(Send(Post("/h%23x", "hash")));
  EXPECT_EQ(Read("/h%23x"), "200 hash");
  ExpectOk(Send(Post("/%D0%BA%D0%BB%D1%8E%D1%87", "utf8")));
  EXPECT_EQ(Read("/ключ"), "200 utf8");
}

TEST_F(HandlerTest, PathsAreNotCleaned) {
  ExpectOk(Send(Post("//dk", "d")));
  EXPECT_EQ(Read("//dk"), "200 d");
  EXPECT_EQ(Read("/dk"), "404 Key not found\n");
  ExpectOk(Send(Post("/x/../y", "dots")));
  EXPECT_EQ(Read("/x/../y"), "200 dots");
  EXPECT_EQ(Read("/y"), "404 Key not found\n");
  ExpectOk(Send(Post("/ts/", "t")));
  EXPECT_EQ(Read("/ts"), "404 Key not found\n");
  EXPECT_EQ(Read("/ts/"), "200 t");
}

TEST_F(HandlerTest, BadPercentEncodingIs400) {
  ExpectError(Send(Get("/bad%zz")), 400, "Bad Request: invalid percent-encoding\n");
}

TEST_F(HandlerTest, NulInAKeyIsAnOrdinaryKey) {
  ExpectError(Send(Get("/%00")), 404, "Key not found\n");
}

TEST_F(HandlerTest, AsteriskAndAuthorityTargetsAreUnsupported) {  // differs from the original
  for (Call call : {Post("*", "abc"), Get("*"), MethodCall("CONNECT", "host:443")}) {
    const Response response = Send(call);
    ExpectError(response, 400, "Bad Request: unsupported request target\n");
    EXPECT_TRUE(response.close);
  }
}

TEST_F(HandlerTest, OptionsAsteriskIsAnsweredWithTheServersMethods) {
  const Response response = Send(MethodCall("OPTIONS", "*"));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.extra_headers, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n");
  EXPECT_FALSE(response.close);
}

TEST_F(HandlerTest, AbsoluteFormTargets) {
  ExpectError(Send(Get("http://x")), 400, "Key is required\n");
  ExpectOk(Send(Post("http://otherhost/ak", "abs")));
  EXPECT_EQ(Read("/ak"), "200 abs");
}

TEST_F(HandlerTest, Http11WithoutHostIs400AndHttp10IsServed) {
  Call call = Get("/ak");
  call.host = "";
  const Response response = Send(call);
  ExpectError(response, 400, "Bad Request: missing required Host header\n");
  EXPECT_TRUE(response.close);
  call.version = 10;
  ExpectError(Send(call), 404, "Key not found\n");
}

TEST_F(HandlerTest, TargetWithoutLeadingSlashIs400) {
  ExpectError(Send(Get("ak")), 400, "Bad Request\n");
}

TEST_F(HandlerTest, IndexPageForGetAndHead) {  // differs: our page, gzip negotiated
  Call call = Get("/?x=1");
  call.accept_encoding = "gzip";
  Response response = Send(call);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kHtml);
  EXPECT_TRUE(response.gzip);
  EXPECT_TRUE(response.vary_accept_encoding);

  call.accept_encoding = "";
  call.method = "HEAD";
  response = Send(call);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.head);
  EXPECT_FALSE(response.gzip);
  EXPECT_NE(response.body.find("http://rendezvous.example/my-key"), std::string::npos);
}

TEST_F(HandlerTest, OtherMethodsOnTheIndexAre405WithAllow) {  // differs from the original
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "get"}) {
    Call call = MethodCall(method, "/");
    call.body = "hello";
    const Response response = Send(call);
    ExpectError(response, 405, "Method Not Allowed\n");
    EXPECT_TRUE(HasHeader(response, "Allow: GET, HEAD, OPTIONS\r\n")) << method;
    EXPECT_FALSE(HasHeader(response, "POST")) << method;
  }
}

TEST_F(HandlerTest, HandleResetsAReusedResponse) {
  Response response;
  response.extra_headers = "Stale: yes\r\n";
  response.gzip = true;
  response.status = 500;
  ExpectOk(Send(Post("/r", "v")));
  int done_calls = 0;
  Call call = Get("/r");
  harness_.handler().Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "v");
  EXPECT_EQ(response.extra_headers.find("Stale"), std::string::npos) << response.extra_headers;
  EXPECT_FALSE(response.gzip);
}

}  // namespace
}  // namespace rendezvous::http

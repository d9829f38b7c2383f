// Tests for http/redirect.h: the 308 answer of -redirectHTTP and the Location it builds from the
// Host header and the request-target.
#include "http/redirect.h"

#include <gtest/gtest.h>

#include "http/request.h"
#include "http/response.h"

namespace rendezvous::http {
namespace {

Response Answer(RedirectHandler& handler, std::string_view host, std::string_view target,
                Method method = Method::kGet) {
  Request request;
  request.method = method;
  request.host = host;
  request.target = target;
  Response response;
  bool done = false;
  handler.Handle(request, response, [&done] { done = true; });
  EXPECT_TRUE(done);
  return response;
}

TEST(RedirectTest, AKeyIsRedirectedWithItsPathAndQueryToTheTlsPort) {
  RedirectHandler handler(8443);
  Response response = Answer(handler, "example.com:8080", "/ip/svc?x=1", Method::kPost);
  EXPECT_EQ(response.status, 308);
  EXPECT_EQ(response.extra_headers, "Location: https://example.com:8443/ip/svc?x=1\r\n");
}

TEST(RedirectTest, Port443IsLeftOutOfTheLocation) {
  RedirectHandler handler(443);
  EXPECT_EQ(handler.Location("example.com", "/"), "https://example.com/");
  EXPECT_EQ(handler.Location("[2001:db8::1]:80", "/k"), "https://[2001:db8::1]/k");
}

TEST(RedirectTest, TheTlsPortCanBeSetAfterConstruction) {
  RedirectHandler handler(0);
  handler.set_tls_port(40123);
  EXPECT_EQ(handler.Location("127.0.0.1", "/a"), "https://127.0.0.1:40123/a");
}

TEST(RedirectTest, AnAbsoluteFormTargetKeepsOnlyItsPath) {
  RedirectHandler handler(443);
  EXPECT_EQ(handler.Location("h.example", "http://other.example/key?q"),
            "https://h.example/key?q");
  EXPECT_EQ(handler.Location("h.example", "http://other.example"), "https://h.example/");
}

TEST(RedirectTest, AMissingOrUnusableHostIs400) {
  RedirectHandler handler(443);
  EXPECT_EQ(Answer(handler, "", "/k").status, 400);
  EXPECT_EQ(Answer(handler, "evil.example\r\nSet-Cookie: x", "/k").status, 400);
  EXPECT_EQ(Answer(handler, "a b", "/k").status, 400);
  EXPECT_EQ(Answer(handler, "host:80x", "/k").status, 400);
  EXPECT_EQ(Answer(handler, "[zz]", "/k").status, 400);
  EXPECT_EQ(Answer(handler, ":80", "/k").status, 400);
  EXPECT_EQ(Answer(handler, "host", "*").status, 400);
}

TEST(RedirectTest, HeadGetsTheHeadersOnly) {
  RedirectHandler handler(443);
  EXPECT_TRUE(Answer(handler, "h", "/", Method::kHead).head);
}

}  // namespace
}  // namespace rendezvous::http

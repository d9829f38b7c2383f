// The origin the index page shows: the Host header, or what a trusted proxy says in Forwarded or
// X-Forwarded-Proto / X-Forwarded-Host (net/ fills those fields only from trusted peers); and the
// page's handler, which also answers the browser's /favicon.ico.
#include "http/public_origin.h"

#include <string>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "http/index_handler.h"
#include "http/index_page.h"

namespace rendezvous::http {
namespace {

Request WithHost(std::string_view host) {
  Request request;
  request.method = Method::kGet;
  request.host = host;
  return request;
}

TEST(PublicOriginTest, WithoutProxyHeadersItIsHttpAndTheHostHeader) {
  const PublicOrigin origin = ResolvePublicOrigin(WithHost("kv.example:8080"));
  EXPECT_FALSE(origin.https);
  EXPECT_EQ(origin.host, "kv.example:8080");
}

TEST(PublicOriginTest, XForwardedProtoAndHostKeepThePort) {
  Request request = WithHost("127.0.0.1:3000");
  request.forwarded_proto = "https";
  request.forwarded_host = "kv.example:8443";
  const PublicOrigin origin = ResolvePublicOrigin(request);
  EXPECT_TRUE(origin.https);
  EXPECT_EQ(origin.host, "kv.example:8443");
  request.forwarded_proto = "HTTPS";
  EXPECT_TRUE(ResolvePublicOrigin(request).https);
}

TEST(PublicOriginTest, TheLastEntryIsTheOneTheNearestProxyWrote) {
  Request request = WithHost("backend");
  request.forwarded_proto = "https, http";  // the client claimed https; the proxy saw http
  request.forwarded_host = "evil.example, kv.example";
  const PublicOrigin origin = ResolvePublicOrigin(request);
  EXPECT_FALSE(origin.https);
  EXPECT_EQ(origin.host, "kv.example");
}

TEST(PublicOriginTest, ForwardedIsReadFromItsLastElementWithoutQuotes) {
  Request request = WithHost("backend");
  request.forwarded =
      "for=192.0.2.1;proto=http;host=evil.example, "
      "for=\"[2001:db8::1]\";Proto=https;Host=\"kv.example:8443\"";
  const PublicOrigin origin = ResolvePublicOrigin(request);
  EXPECT_TRUE(origin.https);
  EXPECT_EQ(origin.host, "kv.example:8443");
}

TEST(PublicOriginTest, XForwardedWinsOverForwardedWhichProxiesPassThrough) {
  Request request = WithHost("backend");
  request.forwarded = "proto=http;host=evil.example";  // sent by the client, passed through
  request.forwarded_proto = "https";
  request.forwarded_host = "kv.example";
  PublicOrigin origin = ResolvePublicOrigin(request);
  EXPECT_TRUE(origin.https);
  EXPECT_EQ(origin.host, "kv.example");
  // Parameter by parameter: what X-Forwarded-* lacks, Forwarded may still say.
  request.forwarded = "for=192.0.2.1;proto=https;host=kv.example";
  request.forwarded_proto = "";
  request.forwarded_host = "";
  origin = ResolvePublicOrigin(request);
  EXPECT_TRUE(origin.https);
  EXPECT_EQ(origin.host, "kv.example");
}

TEST(PublicOriginTest, ImplausibleValuesAreIgnored) {
  Request request = WithHost("backend:80");
  request.forwarded_proto = "gopher";
  request.forwarded_host = "<script>";
  PublicOrigin origin = ResolvePublicOrigin(request);
  EXPECT_FALSE(origin.https);
  EXPECT_EQ(origin.host, "backend:80");
  const std::string too_long(256, 'a');  // outlives the request's view of it
  request.forwarded_host = too_long;
  EXPECT_EQ(ResolvePublicOrigin(request).host, "backend:80");
  request.forwarded = "host=\"a b\";proto=\"ftp\"";
  request.forwarded_host = "";
  origin = ResolvePublicOrigin(request);
  EXPECT_FALSE(origin.https);
  EXPECT_EQ(origin.host, "backend:80");
}

struct Handled {
  Response response;
  bool done = false;
};

Handled Handle(IndexHandler& handler, const Request& request, std::string_view path) {
  Handled handled;
  handler.Handle(request, path, handled.response, [&handled] { handled.done = true; });
  return handled;
}

TEST(IndexHandlerTest, TheFaviconIsAnEmptyCacheableAnswer) {
  IndexPage page({});
  common::ManualClock clock;
  IndexHandler handler(page, clock);
  for (Method method : {Method::kGet, Method::kHead}) {
    Request request = WithHost("h");
    request.method = method;
    const Handled handled = Handle(handler, request, kFaviconPath);
    EXPECT_TRUE(handled.done);
    EXPECT_EQ(handled.response.status, 204);
    EXPECT_TRUE(handled.response.body.empty());
    EXPECT_EQ(handled.response.extra_headers, "Cache-Control: public, max-age=86400\r\n");
  }
  Request post = WithHost("h");
  post.method = Method::kPost;
  EXPECT_EQ(Handle(handler, post, kFaviconPath).response.status, 405);
}

TEST(IndexHandlerTest, ThePageShowsTheOriginATrustedProxyForwarded) {
  IndexPage page({});
  common::ManualClock clock;
  IndexHandler handler(page, clock);
  Request request = WithHost("127.0.0.1:3000");
  request.forwarded = "proto=https;host=kv.example";
  const Handled handled = Handle(handler, request, "/");
  EXPECT_EQ(handled.response.status, 200);
  EXPECT_NE(handled.response.body.find("curl https://kv.example/my-key"), std::string::npos);
  EXPECT_NE(handled.response.extra_headers.find("Content-Security-Policy: "), std::string::npos);
}

}  // namespace
}  // namespace rendezvous::http

// net::Connection driven directly, the requests: pieces of every size, pipelining, versions,
// the limits of the target and the header, 100-continue, protocol errors. The fixture is in
// connection_test_util.h; deadlines, closing and completions are in connection_lifecycle_test.cc.
#include <string>
#include <string_view>
#include <vector>

#include "connection_test_util.h"

namespace rendezvous::net::connection_test {
namespace {

TEST_F(ConnectionTest, EveryRequestFedInPiecesOfEverySizeGetsTheSameAnswer) {
  const std::vector<std::string> requests = {
      "GET /key HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /key HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
      "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
      "\r\nGET /after-crlf HTTP/1.2\r\nHost: h\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
  };
  for (const std::string& request : requests) {
    Make(Options());
    Feed(request);
    const std::string whole = Written();
    ASSERT_THAT(whole, HasSubstr("200 OK")) << request;
    for (size_t piece = 1; piece < request.size(); ++piece) {
      Make(Options());
      std::string out;
      for (size_t at = 0; at < request.size(); at += piece) {
        Feed(std::string_view(request).substr(at, piece));
        out += Written();
      }
      EXPECT_EQ(out, whole) << "pieces of " << piece << " bytes: " << request;
    }
  }
}

TEST_F(ConnectionTest, ProxyHeadersAboutTheOriginArePassedOnOnlyFromATrustedPeer) {
  const std::string_view request =
      "GET / HTTP/1.1\r\nHost: backend\r\nX-Forwarded-Proto: https\r\n"
      "X-Forwarded-Host: kv.example:8443\r\nForwarded: proto=http\r\n"
      "X-Forwarded-Host: second\r\nForwarded: proto=https;host=kv.example\r\n\r\n";
  Feed(request);  // the peer, 10.0.0.1, is not a trusted proxy by default
  Written();
  ServerOptions trusting = Options();
  trusting.proxies.trusted.push_back(*common::CidrBlock::Parse("10.0.0.0/8"));
  Make(trusting);
  Feed(request);
  Written();
  Feed("GET / HTTP/1.1\r\nHost: backend\r\n\r\n");  // nothing left from the request before
  Written();
  EXPECT_THAT(handler_.forwarded,
              ElementsAre("||",
                          "https|kv.example:8443,second|proto=http,proto=https;host=kv.example",
                          "||"));
}

TEST_F(ConnectionTest, PipelinedRequestsAreAnsweredInOrderInOneWrite) {
  Feed(
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(handler_.calls, 3);
  const size_t one = out.find("GET /one");
  const size_t two = out.find("POST /two v11 [abc]");
  const size_t three = out.find("GET /three");
  ASSERT_NE(one, out.npos);
  ASSERT_NE(two, out.npos);
  ASSERT_NE(three, out.npos);
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, EmptyLinesBeforeARequestLineAreIgnored) {
  // A client that ends a POST body with an extra CRLF, then one that sends bare LFs.
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi\r\n");
  std::string out = Written();
  EXPECT_EQ(CountOf(out, "200 OK"), 1);
  EXPECT_EQ(connection_->state(), State::kIdle);  // an empty line starts no request
  Feed("\n\r\n\nGET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  out = Written();
  EXPECT_EQ(CountOf(out, "200 OK"), 1);
  EXPECT_THAT(out, Not(HasSubstr("400")));
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, EmptyLinesDoNotRestartTheIdleDeadline) {
  Feed("GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
  Written();
  Tick(now_ms_ + 30'000);
  Feed("\r\n");
  Tick(now_ms_ + 30'000);
  EXPECT_EQ(connection_->state(), State::kClosed);
}

TEST_F(ConnectionTest, LaterHttp1MinorVersionsAreAnsweredAsHttp11) {
  Feed("GET /k HTTP/1.2\r\nHost: h\r\n\r\nGET /k HTTP/1.9\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_EQ(CountOf(out, "HTTP/1.1 200 OK"), 2);
  EXPECT_EQ(handler_.versions, (std::vector<int>{11, 11}));
  EXPECT_EQ(connection_->state(), State::kIdle);
}

TEST_F(ConnectionTest, OtherHttpMajorVersionsAreRefused) {
  for (std::string_view version : {"HTTP/2.0", "HTTP/0.9", "HTTP/3.1"}) {
    Make(Options());
    Feed(Cat("GET /k ", version, "\r\nHost: h\r\n\r\n"));
    EXPECT_THAT(Written(), HasSubstr("400 Bad Request")) << version;
    EXPECT_EQ(handler_.calls, 0);
  }
}

TEST_F(ConnectionTest, ATargetOverTheLimitIs414AndCloses) {
  Feed(Cat("GET /", std::string(100'000, 'a'), " HTTP/1.1\r\nHost: h\r\n\r\n"));
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 414 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(handler_.calls, 0);
  EXPECT_EQ(connection_->state(), State::kLingering);
}

TEST_F(ConnectionTest, ATargetJustOverTheLimitIs414EvenWhenTheLineEndsInTime) {
  Feed(Cat("GET /", std::string(options_.max_target_bytes, 'a'),
                    " HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("HTTP/1.1 414 "));
}

TEST_F(ConnectionTest, ATargetAtTheLimitIsServedBeyondTheHeaderLimit) {
  // max_target_bytes (2048) is above header_limit_bytes (1024): the target still fits.
  const std::string target = Cat("/", std::string(options_.max_target_bytes - 1, 'a'));
  Feed(Cat("GET ", target, " HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("200 OK"));
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ConnectionTest, HeaderFieldsOverTheLimitAre431) {
  Feed(Cat("GET /k HTTP/1.1\r\nHost: h\r\nX-Big: ", std::string(2000, 'b'), "\r\n\r\n"));
  EXPECT_THAT(Written(), HasSubstr("HTTP/1.1 431 "));
}

TEST_F(ConnectionTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  Feed("POST /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(Written(), "HTTP/1.1 100 Continue\r\n\r\n");
  Feed("hi");
  EXPECT_THAT(Written(), HasSubstr("POST /k v11 [hi]"));
}

TEST_F(ConnectionTest, ExpectContinueIsNotAnsweredToHttp10) {
  Feed("POST /k HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(Written(), "");
}

TEST_F(ConnectionTest, AProtocolErrorIsAnsweredAndCloses) {
  Feed("GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string out = Written();
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 400 "));
  EXPECT_THAT(out, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(handler_.calls, 0);
  EXPECT_EQ(connection_->state(), State::kLingering);
}

}  // namespace
}  // namespace rendezvous::net::connection_test

// RequestParser: Beast's parser plus our field rules, fed in pieces of every size.
#include "net/request_parser.h"

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace rendezvous::net {
namespace {

namespace bhttp = boost::beast::http;

struct Parsed {
  boost::beast::error_code ec;
  bool done = false;
  bool keep_alive = false;
  size_t consumed = 0;
};

// Feeds `bytes` to a fresh parser `piece` bytes at a time, as a socket might deliver them, keeping
// unconsumed bytes as the session does.
Parsed Feed(RequestFields& fields, std::string_view bytes, size_t piece, size_t body_limit = 1000,
            std::string_view wide_prefix = "", size_t wide_limit = 0) {
  RequestParser parser(fields, 8192, body_limit);
  parser.WidenBodyLimitFor(wide_prefix, wide_limit);
  std::string buffer;
  size_t offset = 0;
  Parsed result;
  while (!parser.is_done()) {
    if (offset < bytes.size()) {
      const size_t n = std::min(piece, bytes.size() - offset);
      buffer.append(bytes.substr(offset, n));
      offset += n;
    } else if (buffer.empty()) {
      break;
    }
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(buffer), ec);
    buffer.erase(0, used);
    result.consumed += used;
    if (ec == bhttp::error::need_more) {
      if (offset >= bytes.size()) break;
      continue;
    }
    if (ec) {
      result.ec = ec;
      return result;
    }
  }
  result.done = parser.is_done();
  if (result.done) result.keep_alive = parser.keep_alive();
  return result;
}

TEST(RequestParserTest, ParsesAPostInPiecesOfEverySize) {
  const std::string request =
      "POST /k%20ey?x=1 HTTP/1.1\r\nHost: example.org\r\nX-Owner-Secret:   s3cret  \r\n"
      "x-forwarded-for: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t piece = 1; piece <= request.size(); ++piece) {
    RequestFields fields;
    const Parsed parsed = Feed(fields, request, piece);
    ASSERT_TRUE(parsed.done) << "piece " << piece << ": " << parsed.ec.message();
    EXPECT_EQ(fields.method, http::Method::kPost);
    EXPECT_EQ(fields.target, "/k%20ey?x=1");
    EXPECT_EQ(fields.host, "example.org");
    EXPECT_EQ(fields.owner_secret.value, "s3cret");
    EXPECT_EQ(fields.forwarded_for, "1.2.3.4,5.6.7.8");
    EXPECT_EQ(fields.body, "hello");
    EXPECT_TRUE(parsed.keep_alive);
  }
}

TEST(RequestParserTest, ReadsAChunkedBodyInPiecesOfEverySize) {
  const std::string request =
      "POST /ch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nchunk\r\n7\r\ned-body\r\n0\r\n\r\n";
  for (size_t piece = 1; piece <= request.size(); ++piece) {
    RequestFields fields;
    const Parsed parsed = Feed(fields, request, piece);
    ASSERT_TRUE(parsed.done) << "piece " << piece;
    EXPECT_EQ(fields.body, "chunked-body");
    EXPECT_FALSE(fields.transfer_encoding_not_chunked);
    EXPECT_FALSE(fields.transfer_encoding_unsupported);
  }
}

TEST(RequestParserTest, FirstOwnerSecretLineWins) {
  RequestFields fields;
  ASSERT_TRUE(Feed(fields,
                   "POST /k HTTP/1.1\r\nHost: h\r\nX-Owner-Secret: right\r\n"
                   "X-Owner-Secret: wrong\r\nContent-Length: 0\r\n\r\n",
                   64)
                  .done);
  EXPECT_EQ(fields.owner_secret.value, "right");
}

TEST(RequestParserTest, LowerCaseMethodIsNotPost) {
  RequestFields fields;
  const Parsed parsed = Feed(fields, "post /k HTTP/1.1\r\nHost: h\r\n\r\n", 64);
  if (parsed.done) {
    EXPECT_EQ(fields.method, http::Method::kOther);
    EXPECT_EQ(fields.method_text, "post");
  } else {
    EXPECT_TRUE(parsed.ec);  // Beast may refuse it outright; either way it is never a POST
  }
}

TEST(RequestParserTest, BodyOverTheLimitIsRefusedFromContentLength) {
  RequestFields fields;
  const Parsed parsed =
      Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 64, 1000);
  EXPECT_EQ(parsed.ec, bhttp::error::body_limit);
}

TEST(RequestParserTest, TheWideLimitAppliesToItsPathPrefixOnly) {
  const std::string body(1072, 'r');
  for (const std::string target : {"/pk/abc", "http://h/pk/abc"}) {
    RequestFields fields;
    const Parsed parsed = Feed(fields,
                               "PUT " + target + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1072" +
                                   "\r\n\r\n" + body,
                               64, 1000, "/pk/", 1072);
    EXPECT_TRUE(parsed.done) << target;
    EXPECT_EQ(fields.body, body) << target;
  }
  for (const std::string target : {"/pk/abc", "/k", "/x/pk/", "http://h/k"}) {
    RequestFields fields;
    const size_t length = target.starts_with("/pk/") ? 1073 : 1001;
    const Parsed parsed = Feed(fields,
                               "PUT " + target + " HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                                   std::to_string(length) + "\r\n\r\n",
                               64, 1000, "/pk/", 1072);
    EXPECT_EQ(parsed.ec, bhttp::error::body_limit) << target;
  }
}

TEST(RequestParserTest, ChunkedBodyOverTheLimitIsRefused) {
  RequestFields fields;
  const Parsed parsed = Feed(fields,
                             "POST /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                             7, 10);
  EXPECT_EQ(parsed.ec, bhttp::error::body_limit);
}

TEST(RequestParserTest, HeaderBlockOverTheLimitIsRefused) {
  RequestFields fields;
  const std::string request =
      "GET /k HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Feed(fields, request, 512).ec, bhttp::error::header_limit);
}

TEST(RequestParserTest, ContentLengthWithTransferEncodingIsRefused) {
  RequestFields fields;
  EXPECT_TRUE(Feed(fields,
                   "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   64)
                  .ec);
}

TEST(RequestParserTest, ConflictingContentLengthsAreRefused) {
  RequestFields fields;
  EXPECT_TRUE(Feed(fields,
                   "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                   64)
                  .ec);
}

TEST(RequestParserTest, ASecondContentLengthLineIsRefusedEvenWhenItAgrees) {
  const std::string request =
      "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
  for (size_t piece = 1; piece <= request.size(); ++piece) {
    RequestFields fields;
    EXPECT_EQ(Feed(fields, request, piece).ec, bhttp::error::bad_content_length) << piece;
  }
}

TEST(RequestParserTest, AContentLengthListIsRefusedEvenWhenItAgrees) {
  RequestFields fields;
  EXPECT_EQ(Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 64).ec,
            bhttp::error::bad_content_length);
  EXPECT_EQ(Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: 3,\r\n\r\nabc", 64).ec,
            bhttp::error::bad_content_length);
}

TEST(RequestParserTest, ObsoleteLineFoldingIsRefusedInPiecesOfEverySize) {
  for (const std::string fold : {"X-A: a\r\n b\r\n", "X-A: a\r\n\tb\r\n",
                                 "Transfer-Encoding:\r\n chunked\r\n",
                                 "X-A: a\r\n \r\n", "Host: h\r\n  h\r\n"}) {
    const std::string request = "GET /k HTTP/1.1\r\nHost: h\r\n" + fold + "X-B: c\r\n\r\n";
    for (size_t piece = 1; piece <= request.size(); ++piece) {
      RequestFields fields;
      EXPECT_EQ(Feed(fields, request, piece).ec, bhttp::error::bad_value) << fold << piece;
    }
  }
}

TEST(RequestParserTest, TabsAndSpacesInsideOneLineAreNotAFold) {
  const std::string request =
      "GET /k HTTP/1.1\r\nHost: h\r\nX-Owner-Secret:\t s \t\r\nX-Empty:\r\n"
      "X-Ttl: 1 \r\n\r\n";
  for (size_t piece = 1; piece <= request.size(); ++piece) {
    RequestFields fields;
    ASSERT_TRUE(Feed(fields, request, piece).done) << piece;
    EXPECT_EQ(fields.owner_secret.value, "s");
    EXPECT_EQ(fields.ttl.value, "1");
  }
}

TEST(RequestParserTest, TransferEncodingInAnHttp10RequestIsRefused) {
  RequestFields fields;
  EXPECT_EQ(Feed(fields,
                 "POST /k HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
                 "\r\n3\r\nabc\r\n0\r\n\r\n",
                 64)
                .ec,
            bhttp::error::bad_transfer_encoding);
}

TEST(RequestParserTest, TrailerFieldsAreNotMergedIntoTheHeader) {
  const std::string request =
      "POST /ip/k HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Forwarded-For: 9.9.9.9\r\n"
      "X-Owner-Secret: trailer\r\nHost: other\r\n\r\n";
  for (size_t piece = 1; piece <= request.size(); ++piece) {
    RequestFields fields;
    ASSERT_TRUE(Feed(fields, request, piece).done) << piece;
    EXPECT_EQ(fields.forwarded_for, "1.2.3.4");
    EXPECT_FALSE(fields.owner_secret.seen);
    EXPECT_EQ(fields.host_count, 1);
    EXPECT_EQ(fields.body, "abc");
  }
}

TEST(RequestParserTest, FinalCodingOtherThanChunkedIsMarkedNotChunked) {
  RequestFields fields;
  Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 64);
  EXPECT_TRUE(fields.transfer_encoding_not_chunked);
  Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 64);
  EXPECT_TRUE(fields.transfer_encoding_not_chunked);
}

TEST(RequestParserTest, CodingsBeforeAFinalChunkedAreMarkedUnsupported) {
  RequestFields fields;
  Feed(fields, "POST /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 64);
  EXPECT_TRUE(fields.transfer_encoding_unsupported);
  EXPECT_FALSE(fields.transfer_encoding_not_chunked);
}

TEST(RequestParserTest, CountsHostLines) {
  RequestFields fields;
  Feed(fields, "GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 64);
  EXPECT_EQ(fields.host_count, 2);
  EXPECT_EQ(fields.host, "a");
}

TEST(RequestParserTest, AnInvalidHostValueIsRefused) {
  RequestFields fields;
  EXPECT_TRUE(Feed(fields, "GET /k HTTP/1.1\r\nHost: a b\r\n\r\n", 64).ec);
  EXPECT_TRUE(Feed(fields, "GET /k HTTP/1.1\r\nHost: <script>\r\n\r\n", 64).ec);
  EXPECT_TRUE(Feed(fields, "GET /k HTTP/1.1\r\nHost: \"x\"\r\n\r\n", 64).ec);
  for (const char* host : {"example.org", "example.org:8080", "[::1]:80", "127.0.0.1", "a_b~c"}) {
    const Parsed parsed =
        Feed(fields, std::string("GET /k HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", 64);
    EXPECT_TRUE(parsed.done) << host;
    EXPECT_EQ(fields.host, host);
  }
}

TEST(RequestParserTest, EveryHostByteOutsideTheRfcSetIsRefused) {
  const std::string_view punctuation = "-._~%!$&'()*+,;=:[]";
  for (int c = 0; c < 256; ++c) {
    if (c == '\r' || c == '\n') continue;  // these end the line: another test's matter
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') ||
                         punctuation.find(static_cast<char>(c)) != std::string_view::npos;
    RequestFields fields;
    const std::string host = std::string("a") + static_cast<char>(c) + "b";
    const Parsed parsed = Feed(fields, "GET /k HTTP/1.1\r\nHost: " + host + "\r\n\r\n", 64);
    EXPECT_EQ(parsed.done, allowed) << "byte " << c;
    if (allowed) {
      EXPECT_EQ(fields.host, host) << "byte " << c;
    }
  }
}

// The extension fields Beast has no enum value for, and where each lands.
struct ExtensionField {
  std::string_view lower;
  std::string RequestFields::*joined;  // list-valued ones
  FirstLine RequestFields::*first;     // first-line-wins ones
};
constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";

std::string Taken(const RequestFields& fields, const ExtensionField& field) {
  return field.joined != nullptr ? fields.*field.joined : (fields.*field.first).value;
}

TEST(RequestParserTest, ExtensionFieldNamesMatchInAnyLetterCaseAndOnlyExactly) {
  const ExtensionField kFields[] = {
      {"x-owner-secret", nullptr, &RequestFields::owner_secret},
      {"x-forwarded-for", &RequestFields::forwarded_for, nullptr},
      {"x-ttl", nullptr, &RequestFields::ttl},
      {"x-forwarded-proto", &RequestFields::forwarded_proto, nullptr},
      {"x-forwarded-host", &RequestFields::forwarded_host, nullptr},
  };
  auto parse = [](RequestFields& fields, const std::string& name) {
    return Feed(fields, "GET /k HTTP/1.1\r\nHost: h\r\n" + name + ": v\r\n\r\n", 4096);
  };
  for (const ExtensionField& field : kFields) {
    std::string upper(field.lower), mixed(field.lower);
    for (size_t i = 0; i < upper.size(); ++i) {
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
      if (i % 2 == 0) mixed[i] = upper[i];
    }
    for (const std::string& name : {std::string(field.lower), upper, mixed}) {
      RequestFields fields;
      ASSERT_TRUE(parse(fields, name).done) << name;
      EXPECT_EQ(Taken(fields, field), "v") << name;
    }
    // Every name one token byte away (in either case) is another field, and so are the names
    // one byte shorter or longer.
    std::vector<std::string> others = {std::string(field.lower.substr(1)),
                                       std::string(field.lower) + "x"};
    for (size_t i = 0; i < field.lower.size(); ++i) {
      for (int c = 0x21; c < 0x7f; ++c) {
        const bool token = std::isalnum(c) || kTokenPunctuation.find(static_cast<char>(c)) !=
                                                  std::string_view::npos;
        if (!token || std::tolower(c) == field.lower[i]) continue;
        std::string name(field.lower);
        name[i] = static_cast<char>(c);
        others.push_back(name);
      }
    }
    for (const std::string& name : others) {
      RequestFields fields;
      ASSERT_TRUE(parse(fields, name).done) << name;
      EXPECT_EQ(Taken(fields, field), "") << name;
    }
  }
}

TEST(RequestParserTest, Http10ClosesUnlessKeepAliveIsAsked) {
  RequestFields fields;
  EXPECT_FALSE(Feed(fields, "GET /k HTTP/1.0\r\n\r\n", 64).keep_alive);
  EXPECT_TRUE(Feed(fields, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 64).keep_alive);
  EXPECT_FALSE(Feed(fields, "GET /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 64).keep_alive);
}

}  // namespace
}  // namespace rendezvous::net

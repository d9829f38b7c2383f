// Response serialization (byte for byte) and the Error -> status/body mapping.
#include "http/response.h"

#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "http/errors.h"

namespace rendezvous::http {
namespace {

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

// Written out rather than taken from kCorsHeaders, so that a change to it shows here.
const std::string kCors =
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Expose-Headers: ETag, Expires, X-Expires-In, RateLimit-Limit, "
    "RateLimit-Remaining, RateLimit-Reset, Retry-After\r\n";

// A serialized response: `head` (the status line and the headers before the CORS lines), the CORS
// lines, then `rest` (the headers after them, the blank line and the body).
std::string Wire(std::string_view head, std::string_view rest) {
  return std::string(head) + kCors + std::string(rest);
}

std::string Serialize(const Response& response, bool keep_alive = true, int version = 11) {
  std::string out;
  AppendResponse(response, kDate, keep_alive, version, out);
  return out;
}

Response Ok(ContentType type, std::string body) {
  Response response;
  response.content_type = type;
  response.body = std::move(body);
  return response;
}

TEST(ResponseTest, GetOfAValueIsOctetStreamWithLength) {
  EXPECT_EQ(Serialize(Ok(ContentType::kOctetStream, "hello world")),
            Wire("HTTP/1.1 200 OK\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "Content-Type: application/octet-stream\r\n"
                 "Content-Length: 11\r\n",
                 "\r\n"
                 "hello world"));
}

TEST(ResponseTest, ErrorHasTextPlainNosniffAndTheMessage) {
  Response response;
  SetError(Error::kNotFound, response);
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 404 Not Found\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                      "Content-Type: text/plain; charset=utf-8\r\n"
                                      "Content-Length: 14\r\n"
                                      "X-Content-Type-Options: nosniff\r\n",
                                      "\r\n"
                                      "Key not found\n"));
}

TEST(ResponseTest, RateLimitCarriesItsExtraHeader) {
  Response response;
  SetError(Error::kRateLimited, response);
  response.extra_headers = "Retry-After: 6\r\n";
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 429 Too Many Requests\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                      "Content-Type: text/plain; charset=utf-8\r\n"
                                      "Content-Length: 11\r\n"
                                      "X-Content-Type-Options: nosniff\r\n",
                                      "Retry-After: 6\r\n"
                                      "\r\n"
                                      "Rate limit\n"));
}

TEST(ResponseTest, HeadKeepsContentLengthButSendsNoBody) {
  Response response = Ok(ContentType::kOctetStream, "hello world");
  response.head = true;
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 200 OK\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                      "Content-Type: application/octet-stream\r\n"
                                      "Content-Length: 11\r\n",
                                      "\r\n"));
}

TEST(ResponseTest, Http10KeepAliveIsAnsweredWithKeepAlive) {
  EXPECT_EQ(Serialize(Ok(ContentType::kTextPlain, "OK"), /*keep_alive=*/true, /*version=*/10),
            Wire("HTTP/1.1 200 OK\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 2\r\n",
                 "Connection: keep-alive\r\n"
                 "\r\n"
                 "OK"));
}

TEST(ResponseTest, ConnectionCloseWhenTheConnectionOrTheResponseSaysSo) {
  const std::string closing_10 = Serialize(Ok(ContentType::kTextPlain, "OK"), false, 10);
  EXPECT_NE(closing_10.find("\r\nConnection: close\r\n\r\nOK"), std::string::npos) << closing_10;
  const std::string closing_11 = Serialize(Ok(ContentType::kTextPlain, "OK"), false, 11);
  EXPECT_NE(closing_11.find("\r\nConnection: close\r\n"), std::string::npos);

  Response response = Ok(ContentType::kTextPlain, "OK");
  response.close = true;
  for (int version : {10, 11}) {
    const std::string out = Serialize(response, /*keep_alive=*/true, version);
    EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("keep-alive"), std::string::npos) << out;
  }
}

TEST(ResponseTest, Http11KeepAliveSaysNothingAboutTheConnection) {
  EXPECT_EQ(Serialize(Ok(ContentType::kTextPlain, "OK")).find("Connection"), std::string::npos);
}

TEST(ResponseTest, GzipHtmlWithVary) {
  Response response = Ok(ContentType::kHtml, "\x1f\x8b");
  response.gzip = true;
  response.vary_accept_encoding = true;
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 200 OK\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                      "Content-Type: text/html; charset=utf-8\r\n"
                                      "Content-Length: 2\r\n"
                                      "Content-Encoding: gzip\r\n"
                                      "Vary: Accept-Encoding\r\n",
                                      "\r\n"
                                      "\x1f\x8b"));
}

TEST(ResponseTest, NoContentTypeAndEmptyBodyStillHaveContentLength) {
  EXPECT_EQ(Serialize(Response()), Wire("HTTP/1.1 200 OK\r\n"
                                        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                        "Content-Length: 0\r\n",
                                        "\r\n"));
}

TEST(ResponseTest, AppendsAfterWhatIsAlreadyThereForPipelining) {
  std::string out = "previous";
  AppendResponse(Ok(ContentType::kTextPlain, "OK"), kDate, true, 11, out);
  EXPECT_EQ(out.rfind("previousHTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST(ResponseTest, SerializingIntoABufferWithCapacityDoesNotReallocate) {
  std::string out;
  out.reserve(4096);
  const char* data = out.data();
  Response response = Ok(ContentType::kOctetStream, std::string(1000, 'v'));
  response.extra_headers = "Retry-After: 1\r\n";
  AppendResponse(response, kDate, true, 10, out);
  AppendResponse(response, kDate, false, 11, out);
  EXPECT_EQ(out.data(), data);
}

TEST(ResponseTest, NoContentAndNotModifiedHaveNeitherContentLengthNorBody) {
  Response response = Ok(ContentType::kNone, "");
  response.status = 204;
  response.extra_headers = "Allow: GET\r\n";
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 204 No Content\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
                                      "Allow: GET\r\n"
                                      "\r\n"));
  // A body left in a 304 by mistake is still not sent: the client would read it as the start of
  // the next response.
  response = Ok(ContentType::kNone, "stray");
  response.status = 304;
  response.extra_headers = "ETag: \"1f\"\r\n";
  EXPECT_EQ(Serialize(response), Wire("HTTP/1.1 304 Not Modified\r\n"
                                      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
                                      "ETag: \"1f\"\r\n"
                                      "\r\n"));
}

TEST(ResponseTest, EveryResponseCarriesTheCorsHeaders) {
  for (Error error : {Error::kBadRequest, Error::kHeaderTooLarge, Error::kTimeout,
                      Error::kNotImplemented, Error::kRateLimited}) {
    Response response;
    SetError(error, response);
    const std::string out = Serialize(response, /*keep_alive=*/false);
    EXPECT_NE(out.find("\r\nAccess-Control-Allow-Origin: *\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\nAccess-Control-Expose-Headers: ETag, "), std::string::npos) << out;
  }
}

TEST(ResponseTest, UnknownStatusStillMakesAValidStatusLine) {
  Response response;
  response.status = 299;
  EXPECT_EQ(Serialize(response).rfind("HTTP/1.1 299 Status\r\n", 0), 0u);
}

TEST(ResponseTest, EveryStatusTheServerAnswersHasItsReasonPhrase) {
  std::vector<int> statuses = {100};  // 100 Continue: net/ answers Expect: 100-continue
  for (const Answer& answer : ErrorAnswers()) statuses.push_back(answer.status);
  for (const Answer& answer : SuccessAnswers()) statuses.push_back(answer.status);
  for (int status : statuses) {
    Response response;
    response.status = status;
    const std::string line = Serialize(response).substr(0, Serialize(response).find("\r\n"));
    EXPECT_EQ(line.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0), 0u) << line;
    EXPECT_EQ(line.find(" Status"), std::string::npos) << line;  // not the fallback phrase
  }
}

struct ErrorCase {
  Error error;
  int status;
  std::string_view body;
  bool closes;
};

TEST(ErrorsTest, EveryErrorHasItsStatusBodyAndHeaders) {
  const ErrorCase cases[] = {
      {Error::kBadRequest, 400, "Bad Request\n", true},
      {Error::kBadPercentEncoding, 400, "Bad Request: invalid percent-encoding\n", false},
      {Error::kMissingHost, 400, "Bad Request: missing required Host header\n", true},
      {Error::kBadTarget, 400, "Bad Request: unsupported request target\n", true},
      {Error::kKeyRequired, 400, "Key is required\n", false},
      {Error::kKeyTooLong, 400, "Key too long\n", false},
      {Error::kIpNameRequired, 400, "Name is required after /ip/\n", false},
      {Error::kBadTtl, 400, "Invalid X-TTL\n", false},
      {Error::kBadPrecondition, 400, "Invalid If-Match or If-None-Match\n", false},
      {Error::kForbidden, 403, "Forbidden: Incorrect secret\n", false},
      {Error::kForbiddenIpKey, 403, "Forbidden: key belongs to another address\n", false},
      {Error::kNotFound, 404, "Key not found\n", false},
      {Error::kMethodNotAllowed, 405, "Method Not Allowed\n", false},
      {Error::kTimeout, 408, "Request Timeout\n", true},
      {Error::kPreconditionFailed, 412, "Precondition Failed\n", false},
      {Error::kUriTooLong, 414, "URI Too Long\n", true},
      {Error::kValueTooLarge, 413, "Value too large\n", false},
      {Error::kValuePlusSecretTooLarge, 413, "Value plus secret too large\n", false},
      {Error::kRateLimited, 429, "Rate limit\n", false},
      {Error::kQuotaReached, 429, "Key quota reached: too many live keys from your address\n",
       false},
      {Error::kHeaderTooLarge, 431, "Request Header Fields Too Large\n", true},
      {Error::kUnavailable, 503, "Service Unavailable\n", false},
      {Error::kCapacityReached, 507, "Store capacity reached\n", false},
      {Error::kStorageFull, 507, "Storage full\n", false},
      {Error::kBadWait, 400, "Invalid wait\n", false},
      {Error::kTooManyWaitsClient, 429, "Too many waiting requests from your address\n", false},
      {Error::kTooManyWaits, 429, "Too many waiting requests on this server\n", false},
      {Error::kInvalidPublicKey, 400,
       "Bad Request: invalid public key (expected 52 z-base-32 characters)\n", false},
      {Error::kRecordTooShort, 400,
       "Bad Request: record shorter than 72 bytes (signature and timestamp)\n", false},
      {Error::kRecordValueTooLarge, 413, "Payload Too Large: v over 1000 bytes\n", false},
      {Error::kInvalidSignature, 400, "Bad Request: invalid signature\n", false},
      {Error::kConflict, 409,
       "Conflict: a newer record, or another record with the same timestamp, is stored\n", false},
      {Error::kForbiddenPkKey, 403,
       "Forbidden: pk/ keys are written through /pk/ with a signed record\n", false},
      {Error::kBadListLimit, 400, "Invalid limit: a whole number from 0 to 1000\n", false},
      {Error::kNotImplemented, 501, "Not Implemented\n", true},
  };
  ASSERT_EQ(std::size(cases), kErrorCount);  // a new Error needs its row here
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(AnswerFor(c.error).status, c.status) << c.body;
    Response response;
    response.body = "old";
    response.gzip = true;
    response.extra_headers = "Allow: GET\r\n";
    SetError(c.error, response);
    EXPECT_EQ(response.status, c.status) << c.body;
    EXPECT_EQ(response.body, c.body);
    EXPECT_EQ(response.content_type, ContentType::kTextPlain) << c.body;
    EXPECT_TRUE(response.nosniff) << c.body;
    EXPECT_FALSE(response.gzip) << c.body;
    EXPECT_EQ(response.close, c.closes) << c.body;
    // A 503 says when to come back (the store was unreachable or slow for a moment).
    EXPECT_EQ(response.extra_headers, c.error == Error::kUnavailable
                                          ? "Allow: GET\r\nRetry-After: 1\r\n"
                                          : "Allow: GET\r\n")
        << c.body;
  }
}

TEST(ErrorsTest, SetErrorNeverClearsClose) {
  Response response;
  response.close = true;
  SetError(Error::kNotFound, response);
  EXPECT_TRUE(response.close);
}

TEST(ErrorsTest, StoreStatusesMapToTheirErrors) {
  EXPECT_EQ(ErrorFor(kv::Status::kNotFound), Error::kNotFound);
  EXPECT_EQ(ErrorFor(kv::Status::kForbidden), Error::kForbidden);
  EXPECT_EQ(ErrorFor(kv::Status::kCapacityReached), Error::kCapacityReached);
  EXPECT_EQ(ErrorFor(kv::Status::kQuotaReached), Error::kQuotaReached);
  EXPECT_EQ(ErrorFor(kv::Status::kPreconditionFailed), Error::kPreconditionFailed);
  EXPECT_EQ(ErrorFor(kv::Status::kConflict), Error::kConflict);
  EXPECT_EQ(ErrorFor(kv::Status::kStorageFull), Error::kStorageFull);
  EXPECT_EQ(ErrorFor(kv::Status::kUnavailable), Error::kUnavailable);
}

}  // namespace
}  // namespace rendezvous::http

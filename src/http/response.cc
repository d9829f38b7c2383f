// Response serialization. On the hot path: sized once, copied into a reused buffer, no streams.
#include "http/response.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace rendezvous::http {
namespace {

// The whole status line, with the name of the Date header that always follows it, for the codes
// this server sends (errors.h's tables, and 100 Continue): one copy instead of two. Reason
// phrases as Go's net/http writes them, so clients that log or match them see what they saw
// before. response_test checks that every status of those tables has its line here.
std::string_view StatusLineAndDateName(int status) {
  switch (status) {
    case 100:
      return "HTTP/1.1 100 Continue\r\nDate: ";
    case 200:
      return "HTTP/1.1 200 OK\r\nDate: ";
    case 204:
      return "HTTP/1.1 204 No Content\r\nDate: ";
    case 304:
      return "HTTP/1.1 304 Not Modified\r\nDate: ";
    case 308:  // -redirectHTTP (http/redirect.h)
      return "HTTP/1.1 308 Permanent Redirect\r\nDate: ";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\nDate: ";
    case 403:
      return "HTTP/1.1 403 Forbidden\r\nDate: ";
    case 404:
      return "HTTP/1.1 404 Not Found\r\nDate: ";
    case 405:
      return "HTTP/1.1 405 Method Not Allowed\r\nDate: ";
    case 408:
      return "HTTP/1.1 408 Request Timeout\r\nDate: ";
    case 409:
      return "HTTP/1.1 409 Conflict\r\nDate: ";
    case 412:
      return "HTTP/1.1 412 Precondition Failed\r\nDate: ";
    case 413:
      return "HTTP/1.1 413 Request Entity Too Large\r\nDate: ";
    case 414:
      return "HTTP/1.1 414 Request URI Too Long\r\nDate: ";
    case 429:
      return "HTTP/1.1 429 Too Many Requests\r\nDate: ";
    case 431:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\nDate: ";
    case 501:
      return "HTTP/1.1 501 Not Implemented\r\nDate: ";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\nDate: ";
    case 507:
      return "HTTP/1.1 507 Insufficient Storage\r\nDate: ";
    default:
      return {};
  }
}

void AppendDecimal(size_t value, std::string& out) {
  char digits[20];
  const std::to_chars_result end = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end.ptr);
}

// 1xx, 204 (No Content) and 304 (Not Modified) responses end with their header block: no body and
// no Content-Length (RFC 9110 sections 8.6 and 15.4.5 and RFC 9112 section 6.3).
bool HasContent(int status) { return status >= 200 && status != 204 && status != 304; }

// The end of the Date line and the Content-Type line, for one copy.
std::string_view DateEndAndContentTypeLine(ContentType type) {
  switch (type) {
    case ContentType::kTextPlain:
      return "\r\nContent-Type: text/plain; charset=utf-8\r\n";
    case ContentType::kOctetStream:
      return "\r\nContent-Type: application/octet-stream\r\n";
    case ContentType::kHtml:
      return "\r\nContent-Type: text/html; charset=utf-8\r\n";
    case ContentType::kJson:
      return "\r\nContent-Type: application/json\r\n";
    case ContentType::kNone:
      break;
  }
  return "\r\n";
}

// Copies into a buffer sized beforehand: one resize of the output instead of a capacity check
// (and possible reallocation) for each of the dozen pieces of a response.
class Writer {
 public:
  explicit Writer(char* out) : out_(out) {}
  void Put(std::string_view bytes) {
    if (bytes.empty()) return;  // its data() may be null, which memcpy must not get
    std::memcpy(out_, bytes.data(), bytes.size());
    out_ += bytes.size();
  }
  void PutDecimal(size_t value) { out_ = std::to_chars(out_, out_ + 20, value).ptr; }

 private:
  char* out_;
};

size_t DecimalDigits(size_t value) {
  size_t digits = 1;
  while (value >= 10) {
    value /= 10;
    ++digits;
  }
  return digits;
}

constexpr std::string_view kContentLengthName = "Content-Length: ";
constexpr std::string_view kContentEncodingGzip = "Content-Encoding: gzip\r\n";
constexpr std::string_view kVaryAcceptEncoding = "Vary: Accept-Encoding\r\n";
constexpr std::string_view kNosniff = "X-Content-Type-Options: nosniff\r\n";
constexpr std::string_view kConnectionClose = "Connection: close\r\n";
constexpr std::string_view kConnectionKeepAlive = "Connection: keep-alive\r\n";

}  // namespace

void AppendResponse(const Response& response, std::string_view date, bool keep_alive,
                    int request_version, std::string& out) {
  std::string_view status_line = StatusLineAndDateName(response.status);
  if (status_line.empty()) {
    // A status without a table entry is a programming error elsewhere; still send valid HTTP.
    out.append("HTTP/1.1 ");
    AppendDecimal(static_cast<size_t>(std::clamp(response.status, 100, 999)), out);
    status_line = " Status\r\nDate: ";
  }
  const std::string_view content_type = DateEndAndContentTypeLine(response.content_type);
  const bool has_content = HasContent(response.status);
  std::string_view connection;
  if (response.close || !keep_alive) {
    connection = kConnectionClose;
  } else if (request_version == 10) {
    connection = kConnectionKeepAlive;
  }
  const bool with_body = has_content && !response.head;

  size_t size = status_line.size() + date.size() + content_type.size() + kCorsHeaders.size() +
                response.extra_headers.size() + connection.size() + 2;
  if (has_content) size += kContentLengthName.size() + DecimalDigits(response.body.size()) + 2;
  if (response.gzip) size += kContentEncodingGzip.size();
  if (response.vary_accept_encoding) size += kVaryAcceptEncoding.size();
  if (response.nosniff) size += kNosniff.size();
  if (with_body) size += response.body.size();

  const size_t start = out.size();
  out.resize(start + size);
  Writer writer(out.data() + start);
  writer.Put(status_line);
  writer.Put(date);
  writer.Put(content_type);
  if (has_content) {
    writer.Put(kContentLengthName);
    writer.PutDecimal(response.body.size());
    writer.Put("\r\n");
  }
  if (response.gzip) writer.Put(kContentEncodingGzip);
  if (response.vary_accept_encoding) writer.Put(kVaryAcceptEncoding);
  if (response.nosniff) writer.Put(kNosniff);
  writer.Put(kCorsHeaders);
  writer.Put(response.extra_headers);
  writer.Put(connection);
  writer.Put("\r\n");
  if (with_body) writer.Put(response.body);
}

}  // namespace rendezvous::http

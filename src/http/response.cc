// Response serialization. On the hot path: plain appends into a reused buffer, no streams.
#include "http/response.h"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace rendezvous::http {
namespace {

// The whole status line for the codes this server sends (errors.h's tables, and 100 Continue);
// reason phrases as Go's net/http writes them, so clients that log or match them see what they
// saw before. response_test checks that every status of those tables has its line here.
std::string_view StatusLine(int status) {
  switch (status) {
    case 100:
      return "HTTP/1.1 100 Continue\r\n";
    case 200:
      return "HTTP/1.1 200 OK\r\n";
    case 204:
      return "HTTP/1.1 204 No Content\r\n";
    case 304:
      return "HTTP/1.1 304 Not Modified\r\n";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\n";
    case 403:
      return "HTTP/1.1 403 Forbidden\r\n";
    case 404:
      return "HTTP/1.1 404 Not Found\r\n";
    case 405:
      return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408:
      return "HTTP/1.1 408 Request Timeout\r\n";
    case 409:
      return "HTTP/1.1 409 Conflict\r\n";
    case 412:
      return "HTTP/1.1 412 Precondition Failed\r\n";
    case 413:
      return "HTTP/1.1 413 Request Entity Too Large\r\n";
    case 414:
      return "HTTP/1.1 414 Request URI Too Long\r\n";
    case 429:
      return "HTTP/1.1 429 Too Many Requests\r\n";
    case 431:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 501:
      return "HTTP/1.1 501 Not Implemented\r\n";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\n";
    case 507:
      return "HTTP/1.1 507 Insufficient Storage\r\n";
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

std::string_view ContentTypeLine(ContentType type) {
  switch (type) {
    case ContentType::kTextPlain:
      return "Content-Type: text/plain; charset=utf-8\r\n";
    case ContentType::kOctetStream:
      return "Content-Type: application/octet-stream\r\n";
    case ContentType::kHtml:
      return "Content-Type: text/html; charset=utf-8\r\n";
    case ContentType::kNone:
      break;
  }
  return {};
}

}  // namespace

void AppendResponse(const Response& response, std::string_view date, bool keep_alive,
                    int request_version, std::string& out) {
  const std::string_view status_line = StatusLine(response.status);
  if (!status_line.empty()) {
    out.append(status_line);
  } else {
    // A status without a table entry is a programming error elsewhere; still send valid HTTP.
    out.append("HTTP/1.1 ");
    AppendDecimal(static_cast<size_t>(std::clamp(response.status, 100, 999)), out);
    out.append(" Status\r\n");
  }
  out.append("Date: ").append(date).append("\r\n");
  out.append(ContentTypeLine(response.content_type));
  const bool has_content = HasContent(response.status);
  if (has_content) {
    out.append("Content-Length: ");
    AppendDecimal(response.body.size(), out);
    out.append("\r\n");
  }
  if (response.gzip) out.append("Content-Encoding: gzip\r\n");
  if (response.vary_accept_encoding) out.append("Vary: Accept-Encoding\r\n");
  if (response.nosniff) out.append("X-Content-Type-Options: nosniff\r\n");
  out.append(kCorsHeaders);
  out.append(response.extra_headers);
  if (response.close || !keep_alive) {
    out.append("Connection: close\r\n");
  } else if (request_version == 10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (has_content && !response.head) out.append(response.body);
}

}  // namespace rendezvous::http

// Response: what a handler answers, serialized to bytes by AppendResponse (response.cc).
//
// Plain data; no sockets. net/ keeps one Response per connection and reuses it (its strings keep
// their capacity), so the common responses cost no heap allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rendezvous::http {

enum class ContentType : uint8_t { kNone, kTextPlain, kOctetStream, kHtml };

struct Response {
  int status = 200;
  ContentType content_type = ContentType::kNone;
  std::string body;
  bool head = false;  // HEAD: headers as for GET (Content-Length included), no body
  bool gzip = false;  // body is gzip-encoded (Content-Encoding: gzip)
  bool vary_accept_encoding = false;
  bool nosniff = false;  // X-Content-Type-Options: nosniff (error responses)
  bool close = false;    // the server closes the connection after this response
  // Further header lines, each "Name: value\r\n" (Allow, Retry-After, ETag, ...).
  std::string extra_headers;
  // Not serialized: the handler's scratch space for the decoded key. It lives here because the
  // Response is per connection and outlives the store operation, and because reusing its capacity
  // makes key decoding allocation-free. Reset() leaves it alone.
  std::string key_buffer;

  void Reset() {
    status = 200;
    content_type = ContentType::kNone;
    body.clear();
    head = gzip = vary_accept_encoding = nosniff = close = false;
    extra_headers.clear();
  }
};

// Appends the serialized response (status line, headers, body) to `out`. Allocates nothing when
// `out` has the capacity.
//
// The status line always says HTTP/1.1 (RFC 9110: a server sends its own highest version).
// Headers, in this order: Date (`date` is the preformatted IMF-fixdate), Content-Type (unless
// kNone), Content-Length (always; for a HEAD response the length a GET would have sent),
// Content-Encoding: gzip, Vary: Accept-Encoding, X-Content-Type-Options: nosniff, extra_headers,
// then Connection: "close" when response.close or !keep_alive; "keep-alive" when the request was
// HTTP/1.0 (`request_version` 10) and the connection stays open; nothing otherwise (HTTP/1.1
// default). `keep_alive` is the connection's decision for this request (Connection header and
// version rules); a response with close=true always says close.
void AppendResponse(const Response& response, std::string_view date, bool keep_alive,
                    int request_version, std::string& out);

}  // namespace rendezvous::http

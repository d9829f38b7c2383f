// RequestParser: Beast's HTTP/1 request parser, keeping only what the handlers need.
//
// Derived from boost::beast::http::basic_parser<true> (the strict, allocation-free core parser);
// Beast validates the request line, field syntax, Content-Length (values must agree, no
// Content-Length with Transfer-Encoding) and chunked framing. On top of it this class copies the
// few fields the handlers read into a RequestFields owned by the connection (its strings keep
// their capacity across requests, so a steady connection allocates nothing), enforces the
// first-line-wins rule for repeated headers, and flags what Beast lets through but a request
// must not carry (a Transfer-Encoding other than exactly "chunked", a repeated Host); the session
// refuses those after the header.
//
// Framing that Beast accepts but a front proxy may read differently (request smuggling) is a
// parse error here, so the session answers 400 and closes: a second Content-Length line or a
// Content-Length list ("5, 5"), Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1: its
// framing is faulty), and obsolete line folding (RFC 9112 5.2; Beast would unfold it silently).
// Trailer fields after a chunked body are ignored (RFC 9110 6.5.1): merged into the header, a
// trailer X-Forwarded-For would land right of the proxy's entry and choose the client address.
//
// basic_parser cannot be reset, so a connection constructs a new RequestParser per request (in
// a std::optional: no allocation) over the same RequestFields. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

#include "http/request.h"

namespace rendezvous::net {

// A header that may repeat: the first line wins (as Go's Header.Get).
struct FirstLine {
  std::string value;
  bool seen = false;
  void Set(std::string_view v) {
    if (seen) return;
    seen = true;
    value.assign(v.data(), v.size());
  }
  void Clear() {
    seen = false;
    value.clear();
  }
};

// The parts of one request that outlive the parser callbacks.
struct RequestFields {
  http::Method method = http::Method::kOther;
  std::string method_text;
  std::string target;
  int version = 11;
  std::string host;
  int host_count = 0;
  bool expect_continue = false;
  // Transfer-Encoding other than exactly "chunked": the final coding is not chunked (the body
  // length is unknowable: 400), or codings before a final chunked that we do not decode (501).
  bool transfer_encoding_not_chunked = false;
  bool transfer_encoding_unsupported = false;
  // The request-target is longer than the parser's max_target_bytes (414): the parse stops with
  // an error, or, for a request-line past the limit before it ended, with header_limit.
  bool target_too_long = false;
  FirstLine owner_secret, accept_encoding, if_match, if_none_match, ttl, origin;
  FirstLine if_modified_since;
  std::string forwarded_for;  // every X-Forwarded-For line, in order, joined with ','
  std::string prefer;         // every Prefer line, in order, joined with ','
  // Every X-Forwarded-Proto, X-Forwarded-Host and Forwarded line, each joined with ','. Kept for
  // every peer; the connection passes them on only from a trusted proxy.
  std::string forwarded_proto, forwarded_host, forwarded;
  std::string body;

  void Clear();
  // Points the header and body parts of `request` at these strings.
  void FillRequest(http::Request& request) const;
};

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // `fields` is cleared here and must outlive the parser. The request-line may take up to
  // max(header_limit_bytes, max_target_bytes + 64) bytes (0: header_limit_bytes), the header
  // fields header_limit_bytes; a target over max_target_bytes sets fields.target_too_long.
  RequestParser(RequestFields& fields, size_t header_limit_bytes, size_t body_limit_bytes,
                size_t max_target_bytes = 0);
  // Whether the request-line has been parsed (a header_limit error before it means the
  // request-line alone was too long).
  bool request_line_done() const { return request_line_done_; }
  // A request whose target's path starts with `path_prefix` (not empty) may have a body of up to
  // `bytes` instead of body_limit_bytes. Call before the first put().
  void WidenBodyLimitFor(std::string_view path_prefix, size_t bytes) {
    wide_prefix_ = path_prefix;
    wide_limit_bytes_ = bytes;
  }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb method, string_view method_str,
                       string_view target, int version, error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  RequestFields& fields_;
  const size_t header_limit_bytes_;
  const size_t max_target_bytes_;
  bool content_length_seen_ = false;
  bool request_line_done_ = false;
  std::string_view wide_prefix_;
  size_t wide_limit_bytes_ = 0;
};

}  // namespace rendezvous::net

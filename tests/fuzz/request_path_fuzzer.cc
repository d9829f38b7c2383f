// request_path_fuzzer: libFuzzer target over the whole request path, without sockets.
//
// Bytes in -> net::RequestParser, fed in pieces as reads from a socket would deliver them -> the
// session's header checks -> the public http::Router and its http::Handler (memory store, rate limiter, manual clock, index page)
// -> http::AppendResponse -> checks on the bytes out. One input is one client connection.
//
// The Connection below mirrors Session::ProcessInput, OnHeaderDone, Dispatch, FinishResponse and
// AnswerProtocolError (src/net/session.cc) step by step, minus sockets, states and deadlines; when
// the session changes its order of checks, change it here too. End of input stands for the
// header/body deadline: a request left incomplete is answered 408, as the session's tick does.
//
// Input layout: the first byte chooses how the rest is cut into reads (PieceSizes); the rest is
// what the client sends.
//
// Checks (a failure aborts, which libFuzzer reports as a crash, like ASan and UBSan reports):
//   - every response is a whole HTTP/1.1 response: "HTTP/1.1 NNN reason" line, header lines
//     "Name: value" with no bare CR or LF, Date, and Content-Length equal to the body's length
//     (for HEAD: no body); 1xx is exactly the session's "100 Continue";
//   - no 5xx except 501 (a transfer coding we do not decode) and 507 (store full): the client
//     cannot make the server fail;
//   - the handler completes exactly once and inline (the memory store completes inline);
//   - at most one final response per request, and nothing after one that closes the connection.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "absl/types/span.h"
#include "common/clock.h"
#include "common/ip_address.h"
#include "http/errors.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/public_routes.h"
#include "http/router.h"
#include "http/request.h"
#include "http/response.h"
#include "kv/memory_store.h"
#include "net/client_address.h"
#include "net/request_parser.h"
#include "ratelimit/limiter.h"
#include "secret/hasher.h"

namespace rendezvous {
namespace {

namespace bhttp = boost::beast::http;

// Small limits, so that fuzz inputs of a few KiB reach every limit (431, 413, key length, 429,
// 507). The session's logic does not depend on their size.
constexpr size_t kHeaderLimitBytes = 1024;
constexpr size_t kBodyLimitBytes = 256;  // -maxValueSize
constexpr size_t kMaxKeyBytes = 64;      // -maxKeySize
constexpr size_t kMaxEntries = 16;       // -maxNumKV
constexpr size_t kOutputLimitBytes = 64 * 1024;
constexpr std::string_view kDate = "Thu, 01 Jan 2026 00:00:00 GMT";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// Each request moves the clock, so buckets refill and keys expire within one input.
constexpr absl::Duration kTimePerRequest = absl::Seconds(5);

void Check(bool ok, const char* what) {
  if (ok) return;
  fprintf(stderr, "request_path_fuzzer: check failed: %s\n", what);
  abort();
}

bool IsTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// Checks one serialized response (exactly the bytes AppendResponse added) and returns its status.
int CheckResponse(std::string_view text, bool head) {
  Check(text.starts_with("HTTP/1.1 "), "a response starts with HTTP/1.1");
  const size_t head_end = text.find("\r\n\r\n");
  Check(head_end != std::string_view::npos, "a response has a complete header block");
  std::string_view lines = text.substr(0, head_end + 2);  // every line with its CRLF
  const std::string_view body = text.substr(head_end + 4);

  const size_t status_end = lines.find("\r\n");
  const std::string_view status_line = lines.substr(0, status_end);
  Check(status_line.size() >= 13 && status_line[12] == ' ', "status line is HTTP/1.1 NNN reason");
  int status = 0;
  for (char c : status_line.substr(9, 3)) {
    Check(c >= '0' && c <= '9', "the status is three digits");
    status = status * 10 + (c - '0');
  }
  lines.remove_prefix(status_end + 2);

  std::optional<size_t> content_length;
  bool has_date = false;
  while (!lines.empty()) {
    const size_t end = lines.find("\r\n");
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 2);
    Check(line.find_first_of("\r\n") == std::string_view::npos, "no bare CR or LF in a header");
    const size_t colon = line.find(':');
    Check(colon != std::string_view::npos && colon > 0, "a header line has a name and a colon");
    for (char c : line.substr(0, colon)) Check(IsTokenChar(c), "a header name is a token");
    Check(line.size() > colon + 1 && line[colon + 1] == ' ', "a colon is followed by one space");
    for (char c : line.substr(colon + 2)) {
      Check(c == '\t' || static_cast<unsigned char>(c) >= 0x20, "no control bytes in a value");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 2);
    if (name == "Date") has_date = true;
    if (name == "Content-Length") {
      Check(!content_length.has_value(), "one Content-Length");
      Check(!value.empty() && value.size() < 10, "Content-Length is a small number");
      size_t n = 0;
      for (char c : value) {
        Check(c >= '0' && c <= '9', "Content-Length is decimal");
        n = n * 10 + static_cast<size_t>(c - '0');
      }
      content_length = n;
    }
    Check(name != "Transfer-Encoding", "responses are framed by Content-Length");
  }

  if (status < 200) {
    Check(text == kContinue, "the only interim response is the session's 100 Continue");
    return status;
  }
  Check(has_date, "every response has Date");
  Check(status < 500 || status == 501 || status == 507, "no server error for any input");
  if (status == 204 || status == 304) {
    Check(body.empty() && !content_length.has_value(), "204 and 304 have no content");
    return status;
  }
  Check(content_length.has_value(), "every response has Content-Length");
  if (head) {
    Check(body.empty(), "a HEAD response has no body");
  } else {
    Check(body.size() == *content_length, "Content-Length is the body's length");
  }
  return status;
}

// One client connection: the session's request loop over an in-memory byte stream.
class Connection {
 public:
  explicit Connection(http::RequestHandler& handler, common::ManualClock& clock)
      : handler_(handler), clock_(clock), proxies_(net::ProxyPolicy::Default()) {}

  // A read of `bytes` from the socket, then writes until the output is drained (the session
  // stops parsing while output_limit_bytes are pending and resumes after the write).
  void OnRead(std::string_view bytes) {
    if (close_after_write_) return;  // the session only lingers (drops input) now
    in_.append(bytes);
    do {
      ProcessInput();
    } while (Write() && !close_after_write_);
  }

  // End of input: a request still incomplete meets its deadline (Session::OnTick).
  void OnDeadline() {
    if (close_after_write_ || (!parser_ && in_.empty())) return;
    AnswerProtocolError(http::Error::kTimeout);
    Write();
  }

 private:
  void ProcessInput() {
    while (!close_after_write_ && out_.size() < kOutputLimitBytes) {
      if (!parser_) {
        if (in_.empty()) return;
        parser_.emplace(fields_, kHeaderLimitBytes, kBodyLimitBytes);
        header_handled_ = false;
        continue_sent_ = false;
      }
      boost::beast::error_code ec;
      if (!parser_->is_done()) {
        if (in_.empty()) return;
        const size_t used = parser_->put(boost::asio::buffer(in_), ec);
        Check(used <= in_.size(), "the parser consumes at most what it was given");
        in_.erase(0, used);
      }
      if (ec == bhttp::error::need_more) {
        if (parser_->is_header_done() && !header_handled_) OnHeaderDone(!parser_->is_done());
        return;
      }
      if (ec == bhttp::error::body_limit) {
        if (!header_handled_) {
          OnHeaderDone(/*body_follows=*/false);
          if (close_after_write_) return;
        }
        return Dispatch(/*body_too_large=*/true);
      }
      if (ec == bhttp::error::header_limit) {
        return AnswerProtocolError(http::Error::kHeaderTooLarge);
      }
      if (ec) return AnswerProtocolError(http::Error::kBadRequest);
      if (parser_->is_header_done() && !header_handled_) {
        OnHeaderDone(!parser_->is_done());
        if (close_after_write_) return;
      }
      if (parser_->is_done()) Dispatch(/*body_too_large=*/false);
    }
  }

  void OnHeaderDone(bool body_follows) {
    header_handled_ = true;
    if (fields_.transfer_encoding_not_chunked || fields_.host_count > 1) {
      return AnswerProtocolError(http::Error::kBadRequest);
    }
    if (fields_.transfer_encoding_unsupported) {
      return AnswerProtocolError(http::Error::kNotImplemented);
    }
    if (fields_.version >= 11 && fields_.host_count == 0) {
      return AnswerProtocolError(http::Error::kMissingHost);
    }
    if (body_follows && fields_.expect_continue && fields_.version >= 11) {
      Check(!continue_sent_, "one 100 Continue per request");
      continue_sent_ = true;
      Append(kContinue, /*head=*/false);
    }
  }

  void Dispatch(bool body_too_large) {
    fields_.FillRequest(request_);
    request_.body_too_large = body_too_large;
    request_.keep_alive = parser_->keep_alive() && !body_too_large;
    const std::string_view forwarded = fields_.forwarded_for;
    const net::ClientResolution client = net::ResolveClient(
        peer_, absl::MakeConstSpan(&forwarded, forwarded.empty() ? 0 : 1), proxies_);
    request_.client = client.client;
    request_.client_is_loopback_direct = !client.forwarded && peer_.IsLoopback();

    clock_.Advance(kTimePerRequest);
    response_.Reset();
    int completions = 0;
    handler_.Handle(request_, response_, [&completions] { ++completions; });
    Check(completions == 1, "the handler completes once, inline, with the memory store");
    FinishResponse();
  }

  void FinishResponse() {
    const bool keep_alive = request_.keep_alive && !response_.close;
    std::string serialized;
    http::AppendResponse(response_, kDate, keep_alive, request_.version, serialized);
    Append(serialized, response_.head);
    // A client must learn that the connection ends; 1.1 keep-alive is the default, unsaid.
    const bool says_close = serialized.find("\r\nConnection: close\r\n") != std::string::npos;
    Check(says_close == !keep_alive, "Connection: close exactly when the connection closes");
    parser_.reset();
    if (!keep_alive) close_after_write_ = true;
  }

  void AnswerProtocolError(http::Error error) {
    response_.Reset();
    http::SetError(error, response_);
    std::string serialized;
    http::AppendResponse(response_, kDate, /*keep_alive=*/false, parser_ ? fields_.version : 11,
                         serialized);
    Append(serialized, /*head=*/false);
    Check(serialized.find("\r\nConnection: close\r\n") != std::string::npos,
          "a protocol error says Connection: close");
    parser_.reset();
    close_after_write_ = true;
  }

  // Queues one response, checked first, for the next write.
  void Append(std::string_view response, bool head) {
    Check(!close_after_write_, "nothing is sent after a response that closes the connection");
    CheckResponse(response, head);
    out_.append(response);
  }

  // The socket write: hands the pending output to the client. Returns whether there was any.
  bool Write() {
    const bool wrote = !out_.empty();
    out_.clear();
    return wrote;
  }

  http::RequestHandler& handler_;
  common::ManualClock& clock_;
  const net::ProxyPolicy proxies_;
  // Loopback is a trusted proxy by default, so X-Forwarded-For chains are walked too.
  const common::IpAddress peer_ = common::IpAddress::FromV4(0x7f000001);

  std::string in_;
  std::string out_;
  net::RequestFields fields_;
  std::optional<net::RequestParser> parser_;
  bool header_handled_ = false;
  bool continue_sent_ = false;
  bool close_after_write_ = false;
  http::Request request_;
  http::Response response_;
};

// The sizes of successive reads, from the input's first byte: bit 7 set -> everything in one
// read; else pieces of 1 + (bits 0-5) bytes, or with bit 6 set, pseudo-random sizes up to that.
class PieceSizes {
 public:
  explicit PieceSizes(uint8_t control)
      : whole_(control & 0x80),
        vary_(control & 0x40),
        max_(1 + (control & 0x3f)),
        state_(control | 0x100u) {}
  size_t Next(size_t remaining) {
    if (whole_) return remaining;
    size_t n = max_;
    if (vary_) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 17;
      state_ ^= state_ << 5;
      n = 1 + state_ % max_;
    }
    return n < remaining ? n : remaining;
  }

 private:
  const bool whole_;
  const bool vary_;
  const size_t max_;
  uint32_t state_;
};

const http::IndexPage& IndexPage() {
  // Immutable but for its bounded compression cache; built once (it gzips the page).
  static const http::IndexPage page([] {
    http::IndexPageOptions options;
    options.max_key_bytes = kMaxKeyBytes;
    options.max_value_bytes = kBodyLimitBytes;
    options.max_entries = kMaxEntries;
    return options;
  }());
  return page;
}

}  // namespace
}  // namespace rendezvous

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rendezvous;
  if (size == 0) return 0;
  PieceSizes pieces(data[0]);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  // A fresh server per input, so that every input replays the same way.
  common::ManualClock clock;
  kv::MemoryStore store({.max_entries = kMaxEntries, .shards = 4}, secret::Hasher(secret::Key{}));
  ratelimit::Limiter limiter(
      {.capacity_tokens = 11, .refill_period = absl::Minutes(1), .table_slots = 64});
  http::HandlerOptions options;
  options.max_key_bytes = kMaxKeyBytes;
  options.max_value_bytes = kBodyLimitBytes;
  options.expire = absl::Minutes(10);  // 120 requests: long inputs see keys expire
  options.warn_localhost = false;
  http::Handler key_handler(options, store, limiter, clock);
  http::IndexHandler index_handler(IndexPage(), clock);
  http::Router router(http::PublicRoutes(index_handler), key_handler, clock, nullptr);

  Connection connection(router, clock);
  for (size_t offset = 0; offset < stream.size();) {
    const size_t n = pieces.Next(stream.size() - offset);
    connection.OnRead(stream.substr(offset, n));
    offset += n;
  }
  connection.OnDeadline();
  return 0;
}

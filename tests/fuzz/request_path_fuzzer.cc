// request_path_fuzzer: libFuzzer target over the whole request path, without sockets.
//
// Bytes in, fed in pieces as reads from a socket would deliver them -> the real net::Connection
// (the server's socket-free connection core: parser, header checks, pipelining, deadlines) ->
// http::Handler (memory store, rate limiter, manual clock, index page) -> the bytes the connection
// asks to write -> checks on them. One input is one client connection. End of input moves the
// connection's time past every deadline: a request left incomplete is answered 408.
//
// Input layout: the first byte chooses how the rest is cut into reads (PieceSizes); the rest is
// what the client sends.
//
// Checks (a failure aborts, which libFuzzer reports as a crash, like ASan and UBSan reports):
//   - every response is a whole HTTP/1.1 response: "HTTP/1.1 NNN reason" line, header lines
//     "Name: value" with no bare CR or LF, Date, and Content-Length equal to the body's length
//     (for HEAD: no body); 1xx is exactly the connection's "100 Continue";
//   - no 5xx except 501 (a transfer coding we do not decode) and 507 (store full): the client
//     cannot make the server fail;
//   - the handler completes exactly once and inline (the memory store completes inline);
//   - at most one final response per request, and nothing after one that closes the connection.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>

#include "common/clock.h"
#include "common/ip_address.h"
#include "http/errors.h"
#include "http/handler.h"
#include "http/index_page.h"
#include "http/request.h"
#include "http/response.h"
#include "kv/memory_store.h"
#include "net/connection.h"
#include "net/options.h"
#include "ratelimit/limiter.h"
#include "secret/hasher.h"

namespace rendezvous {
namespace {

// Small limits, so that fuzz inputs of a few KiB reach every limit (431, 413, key length, 429,
// 507). The session's logic does not depend on their size.
constexpr size_t kHeaderLimitBytes = 1024;
constexpr size_t kMaxTargetBytes = 512;  // past it: 414
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

// The handler as the connection sees it: the real http::Handler, plus the bookkeeping the checks
// need (whether each answer is to a HEAD, that the handler completes once and inline). Each
// request moves the clock.
class CountingHandler final : public http::RequestHandler {
 public:
  CountingHandler(http::Handler& handler, common::ManualClock& clock)
      : handler_(handler), clock_(clock) {}

  void Handle(const http::Request& request, http::Response& response, http::Done done) override {
    clock_.Advance(kTimePerRequest);
    int completions = 0;
    handler_.Handle(request, response, [&completions, &done] {
      ++completions;
      done();
    });
    Check(completions == 1, "the handler completes once, inline, with the memory store");
    answers_.push_back({response.head, request.keep_alive && !response.close});
  }

  struct Answer {
    bool head;
    bool keep_alive;
  };
  // The handler's answers not yet seen in the output, in order.
  std::deque<Answer> answers_;

 private:
  http::Handler& handler_;
  common::ManualClock& clock_;
};

class FuzzHost final : public net::ConnectionHost {
 public:
  void PostCompletion() override { Check(false, "the memory store completes inline"); }
  std::string_view CurrentDate() override { return kDate; }
};

// One client connection: the real net::Connection over an in-memory byte stream; every write it
// asks for is checked response by response.
class Client {
 public:
  Client(const net::ServerOptions& options, CountingHandler& handler)
      : handler_(handler), connection_(options, handler, host_, peer_, /*now_ms=*/0) {}

  // A read of `bytes` from the socket, with writes whenever the connection has output (it stops
  // reading while output_limit_bytes are pending and resumes after the write).
  void OnRead(std::string_view bytes) {
    while (!bytes.empty()) {
      Write();
      if (!connection_.WantsRead()) return;  // handling, closing or closed: the rest waits
      const boost::asio::mutable_buffer buffer = connection_.ReadBuffer();
      Check(buffer.size() > 0, "a connection that wants a read has room for it");
      const size_t n = std::min(buffer.size(), bytes.size());
      std::memcpy(buffer.data(), bytes.data(), n);
      connection_.OnRead(n, now_ms_);
      bytes.remove_prefix(n);
    }
    Write();
  }

  // End of input: every deadline passes (a request left incomplete is answered 408), then EOF.
  void End() {
    now_ms_ += 3600 * 1000;
    connection_.OnTick(now_ms_);
    Write();
    connection_.OnPeerClosed();
    Write();
    Check(handler_.answers_.empty(), "every handled request was answered");
  }

 private:
  // The socket write: checks and drops the pending output.
  void Write() {
    while (connection_.HasOutput()) {
      std::string_view out = connection_.StartWrite(now_ms_);
      Check(!out.empty(), "a write has bytes");
      while (!out.empty()) out.remove_prefix(CheckOne(out));
      connection_.OnWriteDone(now_ms_);
    }
    if (connection_.WantsShutdownSend()) connection_.OnShutdownSend();
  }

  // Checks the first response in `out`; returns its length.
  size_t CheckOne(std::string_view out) {
    Check(!closed_, "nothing is sent after a response that closes the connection");
    if (out.starts_with(kContinue)) {
      CheckResponse(out.substr(0, kContinue.size()), false);
      return kContinue.size();
    }
    const size_t head_end = out.find("\r\n\r\n");
    Check(head_end != std::string_view::npos, "a response has a complete header block");
    const std::string_view head = out.substr(0, head_end + 4);
    const bool from_handler = !handler_.answers_.empty();
    CountingHandler::Answer answer{false, false};
    if (from_handler) {
      answer = handler_.answers_.front();
      handler_.answers_.pop_front();
    }
    size_t length = head.size();
    const size_t cl = head.find("\r\nContent-Length: ");
    if (cl != std::string_view::npos && !answer.head) {
      size_t n = 0;
      for (size_t i = cl + 18; i < head.size() && head[i] >= '0' && head[i] <= '9'; ++i) {
        n = n * 10 + static_cast<size_t>(head[i] - '0');
      }
      length += n;
    }
    Check(length <= out.size(), "a response's body is in the same write");
    const std::string_view response = out.substr(0, length);
    CheckResponse(response, answer.head);
    // A client must learn that the connection ends; 1.1 keep-alive is the default, unsaid.
    const bool says_close = head.find("\r\nConnection: close\r\n") != std::string_view::npos;
    if (from_handler) {
      Check(says_close == !answer.keep_alive, "Connection: close exactly when the connection closes");
    } else {
      Check(says_close, "an answer of the connection itself (a protocol error) closes it");
    }
    closed_ = says_close;
    return length;
  }

  // Loopback is a trusted proxy by default, so X-Forwarded-For chains are walked too.
  const common::IpAddress peer_ = common::IpAddress::FromV4(0x7f000001);
  CountingHandler& handler_;
  FuzzHost host_;
  net::Connection connection_;
  int64_t now_ms_ = 0;
  bool closed_ = false;
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
  http::Handler handler(options, store, limiter, clock, IndexPage());

  CountingHandler counting(handler, clock);
  net::ServerOptions server_options;
  server_options.header_limit_bytes = kHeaderLimitBytes;
  server_options.max_target_bytes = kMaxTargetBytes;
  server_options.body_limit_bytes = kBodyLimitBytes;
  server_options.output_limit_bytes = kOutputLimitBytes;
  Client client(server_options, counting);
  for (size_t offset = 0; offset < stream.size();) {
    const size_t n = pieces.Next(stream.size() - offset);
    client.OnRead(stream.substr(offset, n));
    offset += n;
  }
  client.End();
  return 0;
}

// The fixture of the net::Connection tests (connection_test.cc: requests, parsing, limits;
// connection_lifecycle_test.cc: deadlines, closing, the handler's completion, long polls): a
// Connection driven directly, with a fake host, a stub handler and a manual time.
//
// Thread-safety: tests run on one thread.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/errors.h"
#include "net/connection.h"

namespace rendezvous::net::connection_test {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using State = Connection::State;

// Concatenates string views and numbers (absl::StrCat takes no std::string_view here).
template <typename... Parts>
inline std::string Cat(const Parts&... parts) {
  std::string out;
  auto add = [&out](const auto& part) {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(part)>>) {
      out += std::to_string(part);
    } else {
      out += std::string_view(part);
    }
  };
  (add(parts), ...);
  return out;
}

inline constexpr std::string_view kDate = "Thu, 01 Jan 2026 00:00:00 GMT";

class FakeHost final : public ConnectionHost {
 public:
  void PostCompletion() override { ++posts; }
  std::string_view CurrentDate() override { return kDate; }
  int64_t MonotonicNanos() override { return monotonic_nanos; }
  int posts = 0;
  int64_t monotonic_nanos = 0;  // 0: not measured
};

// Answers inline with "<method> <target> v<version> [<body>]", or, when `defer` is set, keeps the
// call for the test to complete (or never).
class StubHandler final : public http::RequestHandler {
 public:
  void Handle(const http::Request& request, http::Response& response, http::Done done) override {
    ++calls;
    versions.push_back(request.version);
    forwarded.push_back(Cat(request.forwarded_proto, "|", request.forwarded_host, "|",
                            request.forwarded));
    response.Reset();
    response.in_flight.done = std::move(done);
    response.content_type = http::ContentType::kTextPlain;
    response.body = Cat(request.method_text, " ", request.target, " v", request.version,
                                 " [", request.body, "]");
    if (cancellable) {
      response.in_flight.cancel = [this] { ++cancels; };
    }
    if (wait > absl::ZeroDuration()) {  // a long poll: expire answers "304" itself
      response.in_flight.wait = wait;
      response.in_flight.expire = [this] {
        ++expires;
        Complete("expired");
      };
    }
    pending = &response;
    if (!defer) Complete();
  }
  // Runs the kept call's completion, as a store thread would (the response is written first).
  void Complete(std::string_view body = "") {
    http::Response* response = pending;
    pending = nullptr;
    if (!body.empty()) response->body.assign(body);
    http::Done done = std::move(response->in_flight.done);
    done();
  }

  bool defer = false;
  bool cancellable = false;
  absl::Duration wait = absl::ZeroDuration();
  int expires = 0;
  int calls = 0;
  int cancels = 0;
  std::vector<int> versions;
  std::vector<std::string> forwarded;  // "proto|host|Forwarded" as each request carried them
  http::Response* pending = nullptr;
};

inline ServerOptions Options() {
  ServerOptions options;
  options.header_limit_bytes = 1024;
  options.max_target_bytes = 2048;
  options.body_limit_bytes = 100;
  return options;
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(Options()); }
  void Make(const ServerOptions& options) {
    options_ = options;
    connection_ = std::make_unique<Connection>(options_, handler_, host_,
                                               common::IpAddress::FromV4(0x0a000001), now_ms_);
  }

  // One read of `bytes` (in as many reads as the connection's room needs); what is left once the
  // connection stops reading for good (it answered and closes) is dropped.
  void Feed(std::string_view bytes) {
    while (!bytes.empty()) {
      if (connection_->state() == State::kClosing) return;
      ASSERT_TRUE(connection_->WantsRead()) << "state " << static_cast<int>(connection_->state());
      const boost::asio::mutable_buffer buffer = connection_->ReadBuffer();
      const size_t n = std::min(buffer.size(), bytes.size());
      std::memcpy(buffer.data(), bytes.data(), n);
      connection_->OnRead(n, now_ms_);
      bytes.remove_prefix(n);
    }
  }
  // Every write the connection asks for, completed at once; returns the bytes.
  std::string Written() {
    std::string all;
    while (connection_->HasOutput()) {
      all.append(connection_->StartWrite(now_ms_));
      ++writes_;
      connection_->OnWriteDone(now_ms_);
    }
    if (connection_->WantsShutdownSend()) connection_->OnShutdownSend();
    return all;
  }
  void Tick(int64_t now_ms) {
    now_ms_ = now_ms;
    connection_->OnTick(now_ms_);
  }

  ServerOptions options_;
  FakeHost host_;
  StubHandler handler_;
  int64_t now_ms_ = 1'000'000;
  int writes_ = 0;
  std::unique_ptr<Connection> connection_;
};

inline int CountOf(std::string_view text, std::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != text.npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace rendezvous::net::connection_test

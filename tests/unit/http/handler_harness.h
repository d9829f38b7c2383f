// A Handler wired to a real MemoryStore, a real Limiter and a ManualClock, and a way to send it
// requests written as text ("POST", "/k", body) and get the finished Response back.
//
// Header-only so that every *_test.cc of this folder can use it. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ip_address.h"
#include "gtest/gtest.h"
#include "http/handler.h"
#include "http/index_page.h"
#include "http/request.h"
#include "http/response.h"
#include "kv/memory_store.h"
#include "kv/store.h"
#include "ratelimit/limiter.h"

namespace rendezvous::http::testing {

inline Method MethodFromText(std::string_view text) {
  if (text == "GET") return Method::kGet;
  if (text == "HEAD") return Method::kHead;
  if (text == "POST") return Method::kPost;
  if (text == "PUT") return Method::kPut;
  if (text == "DELETE") return Method::kDelete;
  if (text == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

// One request, as net/ would hand it over. The strings own the bytes Request points into.
struct Call {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string secret;  // X-Owner-Secret, already trimmed; empty: none
  std::string host = "rendezvous.example";
  std::string accept_encoding;
  std::string client = "127.0.0.1";
  int version = 11;
  bool body_too_large = false;
  bool loopback_direct = false;

  Call& Secret(std::string s) {
    secret = std::move(s);
    return *this;
  }
  Call& From(std::string address) {
    client = std::move(address);
    return *this;
  }

  // Points a Request at this Call's strings.
  Request ToRequest() const {
    Request request;
    request.method = MethodFromText(method);
    request.method_text = method;
    request.target = target;
    request.version = version;
    request.host = host;
    request.has_owner_secret = !secret.empty();
    request.owner_secret = secret;
    request.accept_encoding = accept_encoding;
    request.body = body;
    request.body_too_large = body_too_large;
    std::optional<common::IpAddress> address = common::IpAddress::Parse(client);
    EXPECT_TRUE(address.has_value()) << client;
    request.client = address.value_or(common::IpAddress());
    request.client_is_loopback_direct = loopback_direct;
    return request;
  }
};

inline Call Post(std::string target, std::string body = "") {
  Call call;
  call.method = "POST";
  call.target = std::move(target);
  call.body = std::move(body);
  return call;
}

inline Call Get(std::string target) {
  Call call;
  call.target = std::move(target);
  return call;
}

inline Call MethodCall(std::string method, std::string target) {
  Call call;
  call.method = std::move(method);
  call.target = std::move(target);
  return call;
}

struct HarnessOptions {
  HandlerOptions handler;
  size_t max_entries = 100000;
  int64_t max_requests = 255;  // as BEHAVIOR.md section 3 ran the original
  absl::Duration reset = absl::Minutes(1);
};

class Harness {
 public:
  explicit Harness(const HarnessOptions& options = {}, kv::Store* store = nullptr)
      : memory_store_(kv::MemoryStore::Options{.max_entries = options.max_entries, .shards = 4}),
        limiter_(ratelimit::Limiter::Options{.capacity_tokens = options.max_requests,
                                             .refill_period = options.reset,
                                             .table_slots = 1024}),
        index_page_(IndexPageOptions{.max_key_bytes = options.handler.max_key_bytes,
                                     .max_value_bytes = options.handler.max_value_bytes,
                                     .max_entries = options.max_entries,
                                     .expire = options.handler.expire,
                                     .reset = options.reset,
                                     .max_requests = options.max_requests}),
        handler_(options.handler, store != nullptr ? *store : memory_store_, limiter_, clock_,
                 index_page_) {}

  // Sends `call` and returns the response; the store completes inline, so `done` must have run
  // exactly once when Handle returns.
  Response Send(const Call& call) {
    Response response;
    int done_calls = 0;
    handler_.Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
    EXPECT_EQ(done_calls, 1) << call.method << " " << call.target;
    return response;
  }

  common::ManualClock& clock() { return clock_; }
  Handler& handler() { return handler_; }
  kv::MemoryStore& store() { return memory_store_; }

 private:
  common::ManualClock clock_;
  kv::MemoryStore memory_store_;
  ratelimit::Limiter limiter_;
  IndexPage index_page_;
  Handler handler_;
};

// "Name: value\r\n" lines of extra_headers, for matching.
inline bool HasHeader(const Response& response, std::string_view line) {
  return response.extra_headers.find(line) != std::string::npos;
}

}  // namespace rendezvous::http::testing

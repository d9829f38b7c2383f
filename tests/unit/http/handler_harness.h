// The public Router (index page and key API Handler) wired to a real MemoryStore, a real Limiter,
// a ManualClock and a StatsRegistry, and a way to send it requests written as text ("POST", "/k",
// body) and get the finished Response back.
//
// Header-only so that every *_test.cc of this folder can use it. Send() may be called from
// several threads (the Handler, store, limiter and clock are thread-safe); building Calls and
// moving the clock are the test's business.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ip_address.h"
#include "common/stats.h"
#include "gtest/gtest.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/list_handler.h"
#include "http/pk_handler.h"
#include "http/public_routes.h"
#include "http/request.h"
#include "http/response.h"
#include "http/router.h"
#include "http/stats.h"
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
  std::string if_match;       // If-Match; empty: none
  std::string if_none_match;  // If-None-Match; empty: none
  std::string if_modified_since;  // If-Modified-Since; empty: none
  std::string ttl;            // X-TTL; empty: none
  std::string origin;         // Origin; empty: none
  std::string forwarded_for;  // X-Forwarded-For as net/ passes it; empty: none
  std::string prefer;         // Prefer lines joined with ','; empty: none
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
  Call& IfMatch(std::string value) {
    if_match = std::move(value);
    return *this;
  }
  Call& IfNoneMatch(std::string value) {
    if_none_match = std::move(value);
    return *this;
  }
  Call& Ttl(std::string value) {
    ttl = std::move(value);
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
    request.if_match = if_match;
    request.if_none_match = if_none_match;
    request.if_modified_since = if_modified_since;
    request.ttl = ttl;
    request.origin = origin;
    request.forwarded_for = forwarded_for;
    request.prefer = prefer;
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

inline Call Put(std::string target, std::string body = "") {
  Call call = Post(std::move(target), std::move(body));
  call.method = "PUT";
  return call;
}

inline Call Delete(std::string target) {
  Call call;
  call.method = "DELETE";
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
  int64_t max_requests = 255;  // enough that tests not about rate limiting never hit it
  absl::Duration reset = absl::Minutes(1);
};

class Harness {
 public:
  explicit Harness(const HarnessOptions& options = {}, kv::Store* store = nullptr)
      : memory_store_(kv::MemoryStore::Options{
            .max_entries = options.max_entries,
            .shards = 4,
            .limits = StoreLimitsWithSignedKeys(
                {options.handler.max_key_bytes, options.handler.max_value_bytes})}),
        limiter_(ratelimit::Limiter::Options{.capacity_tokens = options.max_requests,
                                             .refill_period = options.reset,
                                             .table_slots = 1024}),
        index_page_(IndexPageOptions{.max_key_bytes = options.handler.max_key_bytes,
                                     .max_value_bytes = options.handler.max_value_bytes,
                                     .max_entries = options.max_entries,
                                     .expire = options.handler.expire,
                                     .reset = options.reset,
                                     .max_requests = options.max_requests}),
        index_handler_(index_page_, clock_),
        handler_(WithStats(options.handler, stats_), store != nullptr ? *store : memory_store_,
                 limiter_, clock_),
        pk_handler_(PkHandlerOptions{.expire = options.handler.expire,
                                     .ipv6_prefix_bits = options.handler.ipv6_prefix_bits,
                                     .max_keys_per_client = options.handler.max_keys_per_client},
                    store != nullptr ? *store : memory_store_, limiter_, clock_),
        list_handler_(ListHandlerOptions{.max_key_bytes = options.handler.max_key_bytes,
                                         .ipv6_prefix_bits = options.handler.ipv6_prefix_bits,
                                         .max_wait = options.handler.max_wait,
                                         .first_seed = 1},
                      store != nullptr ? *store : memory_store_, limiter_, clock_,
                      handler_.waiters()),
        request_stats_(stats_),
        router_(PublicRoutes(index_handler_, &pk_handler_, &list_handler_), handler_, clock_,
                &request_stats_) {}

  // Sends `call` and returns the response; the store completes inline, so `done` must have run
  // exactly once when Handle returns. May be called from several threads at once.
  Response Send(const Call& call) {
    Response response;
    int done_calls = 0;
    router_.Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
    EXPECT_EQ(done_calls, 1) << call.method << " " << call.target;
    return response;
  }

  common::ManualClock& clock() { return clock_; }
  // The key API itself (its long-poll waiters, for instance).
  Handler& key_handler() { return handler_; }
  // What net/ would call: the public Router.
  RequestHandler& handler() { return router_; }
  kv::MemoryStore& store() { return memory_store_; }
  common::StatsRegistry& stats() { return stats_; }
  PkHandler& pk_handler() { return pk_handler_; }

 private:
  static HandlerOptions WithStats(HandlerOptions options, common::StatsRegistry& stats) {
    options.stats = &stats;
    return options;
  }

  common::ManualClock clock_;
  common::StatsRegistry stats_;
  kv::MemoryStore memory_store_;
  ratelimit::Limiter limiter_;
  IndexPage index_page_;
  IndexHandler index_handler_;
  Handler handler_;
  PkHandler pk_handler_;
  ListHandler list_handler_;
  RequestStats request_stats_;
  Router router_;
};

// "<status> <body>" of a GET of `target`: what most assertions about a key's state need.
inline std::string Read(Harness& harness, std::string target) {
  const Response response = harness.Send(Get(std::move(target)));
  return std::to_string(response.status) + " " + response.body;
}

// A store that queues every operation and runs it on the MemoryStore only when told, as an
// engine that commits in batches would. Copies what it needs, as kv/store.h requires.
class DeferredStore final : public kv::Store {
 public:
  explicit DeferredStore(kv::Store& backend) : backend_(backend) {}

  void Get(std::string_view key, absl::Time now, kv::GetCallback done) override {
    pending_.push_back([this, key = std::string(key), now, done = std::move(done)]() mutable {
      backend_.Get(key, now, std::move(done));
    });
  }
  void Put(const kv::PutRequest& request, kv::WriteCallback done) override {
    pending_.push_back([this, key = std::string(request.key), value = std::string(request.value),
                        secret = std::string(request.secret), request,
                        done = std::move(done)]() mutable {
      kv::PutRequest copy = request;
      copy.key = key;
      copy.value = value;
      copy.secret = secret;
      backend_.Put(copy, std::move(done));
    });
  }
  void Delete(const kv::DeleteRequest& request, kv::WriteCallback done) override {
    pending_.push_back([this, key = std::string(request.key), secret = std::string(request.secret),
                        request, done = std::move(done)]() mutable {
      kv::DeleteRequest copy = request;
      copy.key = key;
      copy.secret = secret;
      backend_.Delete(copy, std::move(done));
    });
  }
  void List(const kv::ListRequest& request, kv::ListCallback done) override {
    pending_.push_back([this, name = std::string(request.name), request,
                        done = std::move(done)]() mutable {
      kv::ListRequest copy = request;
      copy.name = name;
      backend_.List(copy, std::move(done));
    });
  }
  size_t SweepExpired(absl::Time now) override { return 0; }
  kv::Status Flush() override { return kv::Status::kOk; }
  size_t Size() const override { return backend_.Size(); }
  void SetChangeListener(kv::ChangeListener listener) override {}

  size_t pending() const { return pending_.size(); }
  void RunAll() {
    while (!pending_.empty()) {
      auto operation = std::move(pending_.front());
      pending_.pop_front();
      operation();
    }
  }

 private:
  kv::Store& backend_;
  std::deque<absl::AnyInvocable<void()>> pending_;
};

// "Name: value\r\n" lines of extra_headers, for matching.
inline bool HasHeader(const Response& response, std::string_view line) {
  return response.extra_headers.find(line) != std::string::npos;
}

// The value of the extra header `name` (exact case), or "" when absent.
inline std::string HeaderValue(const Response& response, std::string_view name) {
  const std::string& headers = response.extra_headers;
  for (size_t line = 0; line < headers.size();) {
    const size_t end = headers.find("\r\n", line);
    const std::string_view text(headers.data() + line, end - line);
    if (text.size() >= name.size() + 2 && text.starts_with(name) &&
        text.substr(name.size(), 2) == ": ") {
      return std::string(text.substr(name.size() + 2));
    }
    line = end + 2;
  }
  return "";
}

}  // namespace rendezvous::http::testing

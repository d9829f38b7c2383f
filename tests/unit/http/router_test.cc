// The Router: the shared checks run first for every route, each route reaches its handler, a path
// no route claims goes to the fallback (the key API on the public listener), and a second
// listener's Router has routes of its own.
#include "http/router.h"

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/stats.h"
#include "gtest/gtest.h"
#include "handler_harness.h"
#include "http/public_routes.h"
#include "http/stats.h"

namespace rendezvous::http {
namespace {

using testing::Call;
using testing::Get;

// Answers 200 with its name and the path it was given, and counts its calls.
class NamedHandler final : public RouteHandler {
 public:
  explicit NamedHandler(std::string name) : name_(std::move(name)) {}
  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override {
    ++calls;
    response.status = 200;
    response.body = name_ + " " + std::string(path);
    done();
  }
  int calls = 0;

 private:
  std::string name_;
};

Response Send(Router& router, const Call& call) {
  Response response;
  int done_calls = 0;
  router.Handle(call.ToRequest(), response, [&done_calls] { ++done_calls; });
  EXPECT_EQ(done_calls, 1);
  return response;
}

class PublicRouterTest : public ::testing::Test {
 protected:
  common::ManualClock clock_;
  NamedHandler index_{"index"};
  NamedHandler keys_{"keys"};
  Router router_{PublicRoutes(index_), keys_, clock_, nullptr};
};

TEST_F(PublicRouterTest, TheRootPathReachesTheIndexPage) {
  EXPECT_EQ(Send(router_, Get("/")).body, "index /");
  EXPECT_EQ(Send(router_, Get("/?lang=en")).body, "index /");
  EXPECT_EQ(&router_.HandlerFor("/"), &index_);
}

TEST_F(PublicRouterTest, EveryOtherPathIsAKeyWithItsRawPath) {
  EXPECT_EQ(Send(router_, Get("/some/key?x=1")).body, "keys /some/key");
  EXPECT_EQ(Send(router_, Get("/%2F")).body, "keys /%2F");  // the key "/", not the page
  EXPECT_EQ(Send(router_, Get("http://other.example/k")).body, "keys /k");
  EXPECT_EQ(index_.calls, 0);
}

TEST_F(PublicRouterTest, ReservedPathsStayKeysUntilTheirFeatureLands) {
  EXPECT_EQ(Send(router_, Get("/ip/*/printer")).body, "keys /ip/*/printer");
  EXPECT_EQ(Send(router_, Get("/pk/abc")).body, "keys /pk/abc");
  EXPECT_EQ(&router_.HandlerFor("/pk/abc"), &keys_);
}

TEST_F(PublicRouterTest, TargetErrorsAndAMissingHostAreAnsweredBeforeAnyRoute) {
  EXPECT_EQ(Send(router_, Get("*")).status, 400);
  Call no_host = Get("/");
  no_host.host = "";
  const Response response = Send(router_, no_host);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body, "Bad Request: missing required Host header\n");
  EXPECT_TRUE(response.close);
  no_host.version = 10;  // HTTP/1.0 needs no Host
  EXPECT_EQ(Send(router_, no_host).body, "index /");
  EXPECT_EQ(index_.calls + keys_.calls, 1);
}

TEST_F(PublicRouterTest, TheRouterSetsHeadAndCloseForEveryRoute) {
  Call head = Get("/k");
  head.method = "HEAD";
  EXPECT_TRUE(Send(router_, head).head);
  Call cut = Get("/k");
  cut.body_too_large = true;
  EXPECT_TRUE(Send(router_, cut).close);
}

TEST(AdminRouterTest, ASecondListenerHasItsOwnRoutesAndFallback) {
  common::ManualClock clock;
  NamedHandler metrics("metrics");
  NamedHandler health("health");
  NamedHandler not_found("none");
  Router admin(
      {{Route::Match::kExact, "/metrics", &metrics}, {Route::Match::kPrefix, "/health", &health}},
      not_found, clock, nullptr);
  EXPECT_EQ(Send(admin, Get("/metrics")).body, "metrics /metrics");
  EXPECT_EQ(Send(admin, Get("/metrics/x")).body, "none /metrics/x");  // exact means exact
  EXPECT_EQ(Send(admin, Get("/healthz")).body, "health /healthz");
  EXPECT_EQ(Send(admin, Get("/")).body, "none /");
}

// The value of the series of `family` whose labels are `labels` (-1 when there is none).
double ValueOf(const common::StatsRegistry& registry, std::string_view family,
               const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const common::StatsRegistry::Family& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const common::StatsRegistry::Series& series : f.series) {
      if (series.labels == labels) {
        return f.type == common::MetricType::kHistogram
                   ? static_cast<double>(series.histogram.count)
                   : series.value;
      }
    }
  }
  return -1;
}

TEST(RouterStatsTest, CountsEveryAnswerByMethodAndCodeWithItsDuration) {
  common::ManualClock clock;
  common::StatsRegistry registry;
  RequestStats stats(registry);
  // A route that takes 3 ms of the manual clock before it answers.
  class Slow final : public RouteHandler {
   public:
    explicit Slow(common::ManualClock& clock) : clock_(clock) {}
    void Handle(const Request&, std::string_view, Response& response, Done done) override {
      clock_.Advance(absl::Milliseconds(3));
      response.status = 200;
      done();
    }

   private:
    common::ManualClock& clock_;
  } slow(clock);
  Router router({}, slow, clock, &stats);
  Send(router, Get("/a"));
  Send(router, Get("/b"));
  Send(router, Get("*"));  // answered by the Router itself: 400
  Call other = Get("/c");
  other.method = "BREW";
  Send(router, other);

  EXPECT_EQ(ValueOf(registry, "rendezvous_requests_total", {{"method", "GET"}, {"code", "200"}}),
            2);
  EXPECT_EQ(ValueOf(registry, "rendezvous_requests_total", {{"method", "GET"}, {"code", "400"}}),
            1);
  EXPECT_EQ(ValueOf(registry, "rendezvous_requests_total", {{"method", "other"}, {"code", "200"}}),
            1);
  for (const auto& family : registry.Collect()) {
    if (family.name != "rendezvous_request_duration_seconds") continue;
    const common::Histogram::Snapshot& get = family.series[0].histogram;  // method="GET"
    EXPECT_EQ(get.count, 3u);
    EXPECT_NEAR(get.sum_seconds, 0.006, 1e-9);  // the 400 took no time on the manual clock
  }
}

TEST(RouterStatsTest, ADurationCountsFromWhenNetReadTheRequestWhenItSays) {
  common::ManualClock clock;
  common::StatsRegistry registry;
  RequestStats stats(registry);
  NamedHandler keys("keys");
  Router router({}, keys, clock, &stats);
  const Call call = Get("/k");
  Request request = call.ToRequest();
  request.received_nanos = clock.MonotonicNanos() - 2'000'000;  // read 2 ms ago
  Response response;
  router.Handle(request, response, [] {});
  for (const auto& family : registry.Collect()) {
    if (family.name != "rendezvous_request_duration_seconds") continue;
    EXPECT_NEAR(family.series[0].histogram.sum_seconds, 0.002, 1e-9);  // method="GET"
  }
}

}  // namespace
}  // namespace rendezvous::http

// The public Router and the key API count what they answer: requests by method and code, rate-limit
// refusals and store operations with their result.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/stats.h"
#include "gtest/gtest.h"
#include "handler_harness.h"

namespace rendezvous::http {
namespace {

using testing::Get;
using testing::Harness;
using testing::HarnessOptions;
using testing::Post;
using Labels = std::vector<std::pair<std::string, std::string>>;

// The value of the series (a histogram's count), or -1 when it is not registered.
double ValueOf(const common::StatsRegistry& registry, std::string_view family,
               const Labels& labels = {}) {
  for (const common::StatsRegistry::Family& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const common::StatsRegistry::Series& series : f.series) {
      if (series.labels != labels) continue;
      return f.type == common::MetricType::kHistogram ? static_cast<double>(series.histogram.count)
                                                      : series.value;
    }
  }
  return -1;
}

TEST(HandlerStatsTest, CountsA200A404AndTheirStoreOperations) {
  Harness harness;
  common::StatsRegistry& stats = harness.stats();
  ASSERT_EQ(harness.Send(Post("/k", "v")).status, 200);
  ASSERT_EQ(harness.Send(Get("/k")).status, 200);
  ASSERT_EQ(harness.Send(Get("/missing")).status, 404);

  EXPECT_EQ(ValueOf(stats, "rendezvous_requests_total", {{"method", "POST"}, {"code", "200"}}), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_requests_total", {{"method", "GET"}, {"code", "200"}}), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_requests_total", {{"method", "GET"}, {"code", "404"}}), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_request_duration_seconds", {{"method", "GET"}}), 2);
  EXPECT_EQ(ValueOf(stats, "rendezvous_store_operations_total", {{"op", "put"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_store_operations_total", {{"op", "get"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(
      ValueOf(stats, "rendezvous_store_operations_total", {{"op", "get"}, {"result", "not_found"}}),
      1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_store_operation_duration_seconds", {{"op", "get"}}), 2);
  EXPECT_EQ(ValueOf(stats, "rendezvous_rate_limited_total"), 0);
}

TEST(HandlerStatsTest, CountsA429AsARateLimitRefusalWithoutAStoreOperation) {
  HarnessOptions options;
  options.max_requests = 1;
  Harness harness(options);
  common::StatsRegistry& stats = harness.stats();
  ASSERT_EQ(harness.Send(Get("/k")).status, 404);
  ASSERT_EQ(harness.Send(Get("/k")).status, 429);

  EXPECT_EQ(ValueOf(stats, "rendezvous_rate_limited_total"), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_requests_total", {{"method", "GET"}, {"code", "429"}}), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_store_operation_duration_seconds", {{"op", "get"}}), 1);
}

TEST(HandlerStatsTest, AStoreOperationLastsFromTheCallToTheStoresAnswer) {
  Harness harness;
  testing::DeferredStore deferred(harness.store());
  HandlerOptions handler_options;
  // A second key handler in front of the deferred store, registered in the same registry.
  handler_options.stats = &harness.stats();
  ratelimit::Limiter limiter({});
  Handler handler(handler_options, deferred, limiter, harness.clock());
  const testing::Call post = Post("/k", "v");
  Response response;
  int done_calls = 0;
  handler.Handle(post.ToRequest(), "/k", response, [&done_calls] { ++done_calls; });
  harness.clock().Advance(absl::Milliseconds(7));
  deferred.RunAll();
  ASSERT_EQ(done_calls, 1);
  for (const auto& family : harness.stats().Collect()) {
    if (family.name != "rendezvous_store_operation_duration_seconds") continue;
    const common::Histogram::Snapshot& put = family.series[1].histogram;  // op="put"
    EXPECT_EQ(put.count, 1u);
    EXPECT_NEAR(put.sum_seconds, 0.007, 1e-9);
  }
}

}  // namespace
}  // namespace rendezvous::http

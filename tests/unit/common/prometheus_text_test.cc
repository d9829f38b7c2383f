#include "common/prometheus_text.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/time/time.h"
#include "common/stats.h"
#include "gtest/gtest.h"

namespace rendezvous::common {
namespace {

std::string Expose(const StatsRegistry& registry) {
  std::string out;
  AppendPrometheusText(registry.Collect(), out);
  return out;
}

TEST(PrometheusTextTest, WritesHelpTypeAndOneLinePerSeriesInRegistrationOrder) {
  StatsRegistry registry;
  registry
      .AddCounter("demo_requests_total", "Requests answered.", {{"method", "GET"}, {"code", "200"}})
      .Increment(3);
  registry.AddCounter("demo_requests_total", "Requests answered.",
                      {{"method", "PUT"}, {"code", "403"}});
  registry.AddGauge("demo_connections", "Open connections.").Set(-2);
  registry.AddCallback(MetricType::kGauge, "demo_ratio", "A ratio.", [] { return 0.25; });
  EXPECT_EQ(Expose(registry),
            "# HELP demo_requests_total Requests answered.\n"
            "# TYPE demo_requests_total counter\n"
            "demo_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "demo_requests_total{method=\"PUT\",code=\"403\"} 0\n"
            "# HELP demo_connections Open connections.\n"
            "# TYPE demo_connections gauge\n"
            "demo_connections -2\n"
            "# HELP demo_ratio A ratio.\n"
            "# TYPE demo_ratio gauge\n"
            "demo_ratio 0.25\n");
}

TEST(PrometheusTextTest, HistogramHasCumulativeBucketsWithInfLastThenSumAndCount) {
  StatsRegistry registry;
  constexpr double kBounds[] = {0.00005, 0.001, 2.5};
  Histogram& histogram =
      registry.AddHistogram("demo_duration_seconds", "Durations.", kBounds, {{"op", "get"}});
  histogram.Observe(absl::Microseconds(10));   // first bucket
  histogram.Observe(absl::Microseconds(500));  // second
  histogram.Observe(absl::Seconds(3));         // +Inf only
  EXPECT_EQ(Expose(registry),
            "# HELP demo_duration_seconds Durations.\n"
            "# TYPE demo_duration_seconds histogram\n"
            "demo_duration_seconds_bucket{op=\"get\",le=\"5e-05\"} 1\n"
            "demo_duration_seconds_bucket{op=\"get\",le=\"0.001\"} 2\n"
            "demo_duration_seconds_bucket{op=\"get\",le=\"2.5\"} 2\n"
            "demo_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"
            "demo_duration_seconds_sum{op=\"get\"} 3.00051\n"
            "demo_duration_seconds_count{op=\"get\"} 3\n");
}

TEST(PrometheusTextTest, HistogramWithoutLabelsPutsLeAlone) {
  StatsRegistry registry;
  constexpr double kBounds[] = {1};
  registry.AddHistogram("demo_seconds", "D.", kBounds).Observe(absl::Milliseconds(500));
  EXPECT_EQ(Expose(registry),
            "# HELP demo_seconds D.\n"
            "# TYPE demo_seconds histogram\n"
            "demo_seconds_bucket{le=\"1\"} 1\n"
            "demo_seconds_bucket{le=\"+Inf\"} 1\n"
            "demo_seconds_sum 0.5\n"
            "demo_seconds_count 1\n");
}

TEST(PrometheusTextTest, EscapesBackslashQuoteAndNewlineInLabelValuesAndHelp) {
  StatsRegistry registry;
  registry.AddGauge("demo_info", "Line one\nback\\slash \"quoted\"", {{"version", "a\\b\"c\nd"}})
      .Set(1);
  EXPECT_EQ(Expose(registry),
            "# HELP demo_info Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE demo_info gauge\n"
            "demo_info{version=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(PrometheusTextTest, FormatsNumbersAsPrometheusReadsThem) {
  EXPECT_EQ(FormatPrometheusValue(0), "0");
  EXPECT_EQ(FormatPrometheusValue(42), "42");
  EXPECT_EQ(FormatPrometheusValue(-7), "-7");
  EXPECT_EQ(FormatPrometheusValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatPrometheusValue(0.00025), "0.00025");
  EXPECT_EQ(FormatPrometheusValue(0.1), "0.1");
  EXPECT_EQ(FormatPrometheusValue(1e300), "1e+300");
  EXPECT_EQ(FormatPrometheusValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
}

TEST(PrometheusTextTest, SkipsFamiliesWithoutSeries) { EXPECT_EQ(Expose(StatsRegistry()), ""); }

}  // namespace
}  // namespace rendezvous::common

#include "common/stats.h"

#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rendezvous::common {
namespace {

constexpr double kBounds[] = {0.001, 0.01, 0.1};

TEST(StatsTest, CounterIncrementsFromSeveralThreadsSumToTheTotal) {
  Counter counter;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < kPerThread; ++i) counter.Increment();
    });
  }
  for (std::thread& thread : threads) thread.join();
  counter.Increment(5);
  EXPECT_EQ(counter.Value(), uint64_t{kThreads} * kPerThread + 5);
}

TEST(StatsTest, HistogramObservationsFromSeveralThreadsSumToTheTotal) {
  Histogram histogram(kBounds);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram] {
      for (int i = 0; i < kPerThread; ++i) histogram.Observe(absl::Microseconds(500));
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snapshot.cumulative_counts.front(), snapshot.count);
  EXPECT_DOUBLE_EQ(snapshot.sum_seconds, kThreads * kPerThread * 0.0005);
}

TEST(StatsTest, HistogramBoundsAreInclusiveUpperBoundsAsPrometheusLe) {
  Histogram histogram(kBounds);
  histogram.Observe(absl::Milliseconds(1));                         // == 0.001: first bucket
  histogram.Observe(absl::Milliseconds(1) + absl::Nanoseconds(1));  // just above: second
  histogram.Observe(absl::Milliseconds(10));                        // == 0.01: second
  histogram.Observe(absl::Milliseconds(100));                       // == 0.1: third
  histogram.Observe(absl::Seconds(5));                              // above all: +Inf only
  histogram.Observe(-absl::Seconds(1));                             // negative: zero, first
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.bounds_seconds, (std::vector<double>{0.001, 0.01, 0.1}));
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(snapshot.count, 6u);
  EXPECT_NEAR(snapshot.sum_seconds, 0.001 + 0.001000001 + 0.01 + 0.1 + 5, 1e-12);
}

TEST(StatsTest, GaugeSetsAndAdds) {
  Gauge gauge;
  gauge.Set(7);
  gauge.Add(-2);
  EXPECT_EQ(gauge.Value(), 5);
}

TEST(StatsTest, CollectWalksEveryFamilyAndSeriesInRegistrationOrder) {
  StatsRegistry registry;
  Counter& get_200 = registry.AddCounter("rendezvous_requests_total", "Requests answered.",
                                         {{"method", "GET"}, {"code", "200"}});
  Counter& post_429 = registry.AddCounter("rendezvous_requests_total", "Requests answered.",
                                          {{"method", "POST"}, {"code", "429"}});
  Gauge& open = registry.AddGauge("rendezvous_connections", "Open connections.");
  Histogram& latency = registry.AddHistogram("rendezvous_request_duration_seconds",
                                             "Time to answer.", kBounds, {{"method", "GET"}});
  int keys = 41;
  registry.AddCallback(MetricType::kGauge, "rendezvous_keys", "Live keys.",
                       [&keys] { return static_cast<double>(keys); });
  get_200.Increment(3);
  post_429.Increment();
  open.Set(2);
  latency.Observe(absl::Milliseconds(20));
  ++keys;  // read at collection time, not at registration

  const std::vector<StatsRegistry::Family> families = registry.Collect();
  ASSERT_EQ(families.size(), 4u);
  EXPECT_EQ(families[0].name, "rendezvous_requests_total");
  EXPECT_EQ(families[0].help, "Requests answered.");
  EXPECT_EQ(families[0].type, MetricType::kCounter);
  ASSERT_EQ(families[0].series.size(), 2u);
  using Labels = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(families[0].series[0].labels, (Labels{{"method", "GET"}, {"code", "200"}}));
  EXPECT_EQ(families[0].series[0].value, 3);
  EXPECT_EQ(families[0].series[1].labels, (Labels{{"method", "POST"}, {"code", "429"}}));
  EXPECT_EQ(families[0].series[1].value, 1);
  EXPECT_EQ(families[1].name, "rendezvous_connections");
  EXPECT_EQ(families[1].type, MetricType::kGauge);
  EXPECT_EQ(families[1].series[0].value, 2);
  EXPECT_TRUE(families[1].series[0].labels.empty());
  EXPECT_EQ(families[2].type, MetricType::kHistogram);
  EXPECT_EQ(families[2].series[0].histogram.cumulative_counts, (std::vector<uint64_t>{0, 0, 1, 1}));
  EXPECT_EQ(families[3].name, "rendezvous_keys");
  EXPECT_EQ(families[3].series[0].value, 42);
}

TEST(StatsTest, RegisteringTheSameSeriesAgainReturnsTheSameHandle) {
  StatsRegistry registry;
  Counter& first = registry.AddCounter("x_total", "X.", {{"op", "get"}});
  Counter& again = registry.AddCounter("x_total", "X.", {{"op", "get"}});
  Counter& other = registry.AddCounter("x_total", "X.", {{"op", "put"}});
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
  EXPECT_EQ(registry.Collect()[0].series.size(), 2u);
}

TEST(StatsDeathTest, ConflictingOrInvalidRegistrationsAbort) {
  StatsRegistry registry;
  registry.AddCounter("x_total", "X.", {{"op", "get"}});
  EXPECT_DEATH(registry.AddGauge("x_total", "X.", {{"op", "put"}}), "another type");
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {{"result", "ok"}}), "label names");
  EXPECT_DEATH(registry.AddCounter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("y_total", "Y.", {{"__reserved", "1"}}), "invalid label");
  EXPECT_DEATH(registry.AddHistogram("h_seconds", "H.", kBounds, {{"le", "1"}}), "invalid label");
  constexpr double kDecreasing[] = {0.1, 0.01};
  EXPECT_DEATH(Histogram histogram(kDecreasing), "increasing");
}

}  // namespace
}  // namespace rendezvous::common

// Stats: the server's metrics — counters, gauges and latency histograms — in one registry that a
// reader (a metrics endpoint) walks at scrape time.
//
// Writers (the request path) hold pre-resolved handles: a Counter&, Gauge& or Histogram& obtained
// once, at start-up, for one fixed set of label values. Updating one is a relaxed atomic add on a
// cache line of the calling thread's shard: no lock, no map lookup, no string, no allocation.
// Counters and histograms are split into kStatsShards cache-line-padded shards (a thread always
// uses the same shard, chosen when it first updates a metric) and the reader sums the shards, so
// two I/O threads counting the same series do not bounce one cache line between their cores.
// Gauges are one padded atomic (they change on events like a connection opening, not per
// request), or a callback the reader runs (live keys: the store's Size()).
//
// Names and labels follow the Prometheus conventions: `_total` counters, base units
// (`_seconds`), label values from a bounded set fixed at registration (method, status code, op,
// result, reason; never a key or a client address). Registration checks the name and label
// syntax and that every series of a family has the same type, help and label names; a violation
// is a programming error and aborts with a message at start-up.
//
// Reading: Collect() returns every family in registration order with every series' labels and
// values (histograms as cumulative buckets, inclusive upper bounds as Prometheus `le`, +Inf last),
// which is what a text exposition (format 0.0.4) needs. A scrape sees each number as of some
// moment during the walk; sums and counts of one histogram may differ by the observations made
// during the walk (the +Inf bucket always equals the count).
//
// Thread-safety: handles may be updated from any thread at any time. Registration and Collect()
// are serialized by a mutex; handles stay valid (at stable addresses) for the registry's life.
// Callbacks run under that mutex, on the reader's thread: they must be thread-safe and must not
// register metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace rendezvous::common {

inline constexpr size_t kStatsShards = 16;

namespace stats_internal {
// The calling thread's shard, in [0, kStatsShards): threads get consecutive indices as they first
// ask, so the first kStatsShards threads (the I/O threads, started together) never share one.
size_t NewShardIndex();
inline size_t ShardIndex() {
  thread_local const size_t index = NewShardIndex();
  return index;
}
}  // namespace stats_internal

// A monotonically increasing count. Usable on its own (a component's private fallback) or
// registered in a StatsRegistry.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t n = 1) {
    cells_[stats_internal::ShardIndex()].value.fetch_add(n, std::memory_order_relaxed);
  }
  // The sum over every shard.
  uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> value{0};
  };
  std::array<Cell, kStatsShards> cells_;
};

// A value that goes up and down (open connections). One atomic: gauges change on events, not on
// every request.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<int64_t> value_{0};
};

// A distribution of durations over fixed buckets.
class Histogram {
 public:
  // Up to kMaxBounds upper bounds besides +Inf.
  static constexpr size_t kMaxBounds = 15;

  // `bounds_seconds`: strictly increasing, positive and finite, at most kMaxBounds; each is
  // rounded to whole nanoseconds. Aborts otherwise (a programming error).
  explicit Histogram(std::span<const double> bounds_seconds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `duration` in the first bucket whose bound is >= it (a value equal to a bound belongs
  // to that bound's bucket, as Prometheus `le`); a negative duration counts as zero.
  void Observe(absl::Duration duration) { ObserveNanos(absl::ToInt64Nanoseconds(duration)); }
  void ObserveNanos(int64_t nanos) {
    if (nanos < 0) nanos = 0;
    size_t bucket = 0;
    while (bucket < bound_count_ && nanos > bounds_nanos_[bucket]) ++bucket;
    Shard& shard = shards_[stats_internal::ShardIndex()];
    shard.counts[bucket].fetch_add(1, std::memory_order_relaxed);
    shard.sum_nanos.fetch_add(static_cast<uint64_t>(nanos), std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<double> bounds_seconds;       // without +Inf
    std::vector<uint64_t> cumulative_counts;  // bounds_seconds.size() + 1 entries, +Inf last
    double sum_seconds = 0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };
  Snapshot Read() const;

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kMaxBounds + 1> counts{};  // per bucket, not cumulative
    std::atomic<uint64_t> sum_nanos{0};
  };
  size_t bound_count_ = 0;
  std::array<int64_t, kMaxBounds> bounds_nanos_{};
  std::array<Shard, kStatsShards> shards_;
};

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram };

// One label of a series, given at registration. Both strings are copied.
struct Label {
  std::string_view name;
  std::string_view value;
};

class StatsRegistry {
 public:
  StatsRegistry();
  ~StatsRegistry();
  StatsRegistry(const StatsRegistry&) = delete;
  StatsRegistry& operator=(const StatsRegistry&) = delete;

  // Each call adds the series `labels` to the family `name` (creating the family on its first
  // series) and returns its handle. Registering the same name and label values again returns the
  // same handle (two users then share the series). Aborts when the name or a label name is not a
  // valid Prometheus name, when the family exists with another type, help or label names, or (for
  // histograms) with other bounds.
  Counter& AddCounter(std::string_view name, std::string_view help,
                      std::initializer_list<Label> labels = {});
  Gauge& AddGauge(std::string_view name, std::string_view help,
                  std::initializer_list<Label> labels = {});
  Histogram& AddHistogram(std::string_view name, std::string_view help,
                          std::span<const double> bounds_seconds,
                          std::initializer_list<Label> labels = {});
  // A series whose value the reader gets by calling `read` at scrape time (for numbers another
  // component already keeps, such as the store's live keys). `type` is kCounter or kGauge.
  // Aborts on a duplicate series.
  void AddCallback(MetricType type, std::string_view name, std::string_view help,
                   absl::AnyInvocable<double() const> read,
                   std::initializer_list<Label> labels = {});

  // --- Reading ---
  struct Series {
    std::vector<std::pair<std::string, std::string>> labels;  // in registration order
    double value = 0;                                         // counters and gauges
    Histogram::Snapshot histogram;                            // histograms
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type = MetricType::kCounter;
    std::vector<Series> series;  // in registration order
  };
  // Every family and series, in registration order (allocates; for the reader only).
  std::vector<Family> Collect() const;

 private:
  struct SeriesEntry;
  struct FamilyEntry;
  // The entry for (name, labels), created if new; `created` says which. Requires mutex_.
  SeriesEntry& FindOrAdd(MetricType type, std::string_view name, std::string_view help,
                         std::initializer_list<Label> labels, bool* created);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyEntry>> families_;  // guarded by mutex_
};

}  // namespace rendezvous::common

// Stats: shard summing, histogram snapshots and the registry's checks.
#include "common/stats.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rendezvous::common {
namespace {

// Registration errors are programming errors found at start-up: say which and stop.
[[noreturn]] void Die(std::string_view what, std::string_view name) {
  std::fprintf(stderr, "stats: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(name.size()), name.data());
  std::abort();
}

bool IsNameStart(char c, bool colon_allowed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_allowed && c == ':');
}

// Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, and
// label names starting with "__" are reserved.
bool IsValidName(std::string_view name, bool colon_allowed) {
  if (name.empty() || !IsNameStart(name[0], colon_allowed)) return false;
  for (char c : name) {
    if (!IsNameStart(c, colon_allowed) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace

namespace stats_internal {

size_t NewShardIndex() {
  // The one process-wide variable of this file: it hands out shard numbers and carries no data.
  static std::atomic<size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) % kStatsShards;
}

}  // namespace stats_internal

uint64_t Counter::Value() const {
  uint64_t sum = 0;
  for (const Cell& cell : cells_) sum += cell.value.load(std::memory_order_relaxed);
  return sum;
}

Histogram::Histogram(std::span<const double> bounds_seconds) {
  if (bounds_seconds.size() > kMaxBounds) Die("too many histogram buckets", "");
  double previous = 0;
  for (double bound : bounds_seconds) {
    if (!std::isfinite(bound) || bound <= previous) {
      Die("histogram bounds must be positive, finite and increasing", "");
    }
    previous = bound;
    bounds_nanos_[bound_count_++] = static_cast<int64_t>(std::llround(bound * 1e9));
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds_seconds.reserve(bound_count_);
  for (size_t i = 0; i < bound_count_; ++i) {
    snapshot.bounds_seconds.push_back(static_cast<double>(bounds_nanos_[i]) / 1e9);
  }
  std::array<uint64_t, kMaxBounds + 1> counts{};
  uint64_t sum_nanos = 0;
  for (const Shard& shard : shards_) {
    for (size_t i = 0; i <= bound_count_; ++i) {
      counts[i] += shard.counts[i].load(std::memory_order_relaxed);
    }
    sum_nanos += shard.sum_nanos.load(std::memory_order_relaxed);
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bound_count_; ++i) {
    cumulative += counts[i];
    snapshot.cumulative_counts.push_back(cumulative);
  }
  snapshot.count = cumulative;
  snapshot.sum_seconds = static_cast<double>(sum_nanos) / 1e9;
  return snapshot;
}

struct StatsRegistry::SeriesEntry {
  std::vector<std::pair<std::string, std::string>> labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  absl::AnyInvocable<double() const> read;  // callback series
};

struct StatsRegistry::FamilyEntry {
  std::string name;
  std::string help;
  MetricType type;
  std::vector<std::string> label_names;
  std::vector<std::unique_ptr<SeriesEntry>> series;
};

StatsRegistry::StatsRegistry() = default;
StatsRegistry::~StatsRegistry() = default;

StatsRegistry::SeriesEntry& StatsRegistry::FindOrAdd(MetricType type, std::string_view name,
                                                     std::string_view help,
                                                     std::initializer_list<Label> labels,
                                                     bool* created) {
  if (!IsValidName(name, /*colon_allowed=*/true)) Die("invalid metric name", name);
  for (const Label& label : labels) {
    if (!IsValidName(label.name, /*colon_allowed=*/false) || label.name.starts_with("__") ||
        (type == MetricType::kHistogram && label.name == "le")) {
      Die("invalid label name", label.name);
    }
  }
  FamilyEntry* family = nullptr;
  for (const auto& candidate : families_) {
    if (candidate->name == name) family = candidate.get();
  }
  if (family == nullptr) {
    auto added = std::make_unique<FamilyEntry>();
    added->name = name;
    added->help = help;
    added->type = type;
    for (const Label& label : labels) added->label_names.emplace_back(label.name);
    family = added.get();
    families_.push_back(std::move(added));
  } else {
    bool same_labels = family->label_names.size() == labels.size();
    size_t i = 0;
    for (const Label& label : labels) {
      same_labels = same_labels && family->label_names[i++] == label.name;
    }
    if (family->type != type || family->help != help || !same_labels) {
      Die("a family registered twice with another type, help or label names", name);
    }
  }
  for (const auto& series : family->series) {
    bool same = true;
    size_t i = 0;
    for (const Label& label : labels) same = same && series->labels[i++].second == label.value;
    if (same) {
      *created = false;
      return *series;
    }
  }
  auto series = std::make_unique<SeriesEntry>();
  for (const Label& label : labels) series->labels.emplace_back(label.name, label.value);
  family->series.push_back(std::move(series));
  *created = true;
  return *family->series.back();
}

Counter& StatsRegistry::AddCounter(std::string_view name, std::string_view help,
                                   std::initializer_list<Label> labels) {
  std::lock_guard lock(mutex_);
  bool created = false;
  SeriesEntry& series = FindOrAdd(MetricType::kCounter, name, help, labels, &created);
  if (created) series.counter = std::make_unique<Counter>();
  if (series.counter == nullptr) Die("a callback series registered again as a counter", name);
  return *series.counter;
}

Gauge& StatsRegistry::AddGauge(std::string_view name, std::string_view help,
                               std::initializer_list<Label> labels) {
  std::lock_guard lock(mutex_);
  bool created = false;
  SeriesEntry& series = FindOrAdd(MetricType::kGauge, name, help, labels, &created);
  if (created) series.gauge = std::make_unique<Gauge>();
  if (series.gauge == nullptr) Die("a callback series registered again as a gauge", name);
  return *series.gauge;
}

Histogram& StatsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                       std::span<const double> bounds_seconds,
                                       std::initializer_list<Label> labels) {
  std::lock_guard lock(mutex_);
  bool created = false;
  SeriesEntry& series = FindOrAdd(MetricType::kHistogram, name, help, labels, &created);
  if (created) {
    series.histogram = std::make_unique<Histogram>(bounds_seconds);
  } else {
    // Every series of one family shares the bounds; compare through a probe with these bounds.
    const Histogram probe(bounds_seconds);
    if (probe.Read().bounds_seconds != series.histogram->Read().bounds_seconds) {
      Die("a histogram registered again with other bounds", name);
    }
  }
  return *series.histogram;
}

void StatsRegistry::AddCallback(MetricType type, std::string_view name, std::string_view help,
                                absl::AnyInvocable<double() const> read,
                                std::initializer_list<Label> labels) {
  if (type == MetricType::kHistogram) Die("a callback histogram", name);
  std::lock_guard lock(mutex_);
  bool created = false;
  SeriesEntry& series = FindOrAdd(type, name, help, labels, &created);
  if (!created) Die("a callback series registered twice", name);
  series.read = std::move(read);
}

std::vector<StatsRegistry::Family> StatsRegistry::Collect() const {
  std::lock_guard lock(mutex_);
  std::vector<Family> families;
  families.reserve(families_.size());
  for (const auto& entry : families_) {
    Family& family = families.emplace_back();
    family.name = entry->name;
    family.help = entry->help;
    family.type = entry->type;
    for (const auto& series_entry : entry->series) {
      Series& series = family.series.emplace_back();
      series.labels = series_entry->labels;
      if (series_entry->read) {
        series.value = series_entry->read();
      } else if (series_entry->counter) {
        series.value = static_cast<double>(series_entry->counter->Value());
      } else if (series_entry->gauge) {
        series.value = static_cast<double>(series_entry->gauge->Value());
      } else {
        series.histogram = series_entry->histogram->Read();
      }
    }
  }
  return families;
}

}  // namespace rendezvous::common

// Build, process and engine metrics, read at scrape time.
#include "app/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/version.h"
#include "kv/lmdb_store.h"
#include "kv/redis_store.h"

namespace rendezvous::app {
namespace {

// Entries of /proc/self/fd minus ".", ".." and the directory's own descriptor; -1 without /proc.
double OpenFileDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int entries = 0;
  while (readdir(dir) != nullptr) ++entries;
  closedir(dir);
  return entries - 3;
}

// User plus system CPU time of every thread so far, in seconds.
double CpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Resident set size from /proc/self/statm (its second field, in pages); -1 without /proc.
double ResidentBytes() {
  FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return -1;
  unsigned long size_pages = 0;
  unsigned long resident_pages = 0;
  const int read = std::fscanf(file, "%lu %lu", &size_pages, &resident_pages);
  std::fclose(file);
  if (read != 2) return -1;
  return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void RegisterProcessMetrics(common::StatsRegistry& stats, const kv::Store& store) {
  // The version is a label so that a dashboard can show which build runs (a gauge always 1).
  stats
      .AddGauge("rendezvous_build_info", "The running build; the value is always 1.",
                {{"version", common::Version()}})
      .Set(1);
  const double start_seconds = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  stats.AddCallback(common::MetricType::kGauge, "process_start_time_seconds",
                    "Start time of the process since the Unix epoch, in seconds.",
                    [start_seconds] { return start_seconds; });
  stats.AddCallback(common::MetricType::kGauge, "process_open_fds",
                    "Open file descriptors (connections, listeners, the store).",
                    [] { return OpenFileDescriptors(); });
  stats.AddCallback(common::MetricType::kCounter, "process_cpu_seconds_total",
                    "User and system CPU time spent by the process, in seconds.",
                    [] { return CpuSeconds(); });
  stats.AddCallback(common::MetricType::kGauge, "process_resident_memory_bytes",
                    "Resident memory size of the process, in bytes.",
                    [] { return ResidentBytes(); });

  if (const auto* redis = dynamic_cast<const kv::RedisStore*>(&store)) {
    stats.AddCallback(common::MetricType::kGauge, "rendezvous_redis_connections_up",
                      "Connections to Redis that serve now (0: Redis is unreachable).",
                      [redis] { return static_cast<double>(redis->connected_count()); });
    stats.AddCallback(common::MetricType::kGauge, "rendezvous_redis_subscribed",
                      "1 while the subscription to the change channel is live (long polls hear "
                      "every server's writes), else 0.",
                      [redis] { return redis->subscribed() ? 1.0 : 0.0; });
  }
  const auto* lmdb = dynamic_cast<const kv::LmdbStore*>(&store);
  if (lmdb == nullptr) return;
  stats.AddCallback(common::MetricType::kGauge, "rendezvous_lmdb_map_bytes",
                    "Current size of the LMDB memory map, in bytes (it grows as the store fills).",
                    [lmdb] { return static_cast<double>(lmdb->map_bytes()); });
  stats.AddCallback(common::MetricType::kGauge, "rendezvous_lmdb_map_limit_bytes",
                    "Largest size the LMDB memory map may grow to, in bytes.",
                    [lmdb] { return static_cast<double>(lmdb->map_limit_bytes()); });
  stats.AddCallback(common::MetricType::kCounter, "rendezvous_lmdb_commits_total",
                    "LMDB write transactions committed (write batches and sweep chunks).",
                    [lmdb] { return static_cast<double>(lmdb->commit_count()); });
  stats.AddCallback(
      common::MetricType::kCounter, "rendezvous_lmdb_committed_operations_total",
      "Puts and deletes committed in LMDB write batches; divided by commits: the mean batch size.",
      [lmdb] { return static_cast<double>(lmdb->committed_op_count()); });
}

}  // namespace rendezvous::app

// Registration of the HTTP layer's series, one per label combination.
#include "http/stats.h"

#include <string>

namespace rendezvous::http {
namespace {

constexpr std::string_view kMethodNames[] = {"GET",    "HEAD",    "POST", "PUT",
                                             "DELETE", "OPTIONS", "other"};
static_assert(std::size(kMethodNames) == RequestStats::kMethodCount);

constexpr std::string_view kOpNames[] = {"get", "put", "delete"};
static_assert(std::size(kOpNames) == KeyStats::kOpCount);

// Indexed by kv::Status.
constexpr std::string_view kResultNames[] = {"ok",
                                             "not_found",
                                             "forbidden",
                                             "capacity_reached",
                                             "quota_reached",
                                             "precondition_failed",
                                             "conflict",
                                             "storage_full",
                                             "unavailable",
                                             "rate_limited"};
static_assert(std::size(kResultNames) == KeyStats::kStatusCount);

}  // namespace

RequestStats::RequestStats(common::StatsRegistry& registry) {
  for (size_t m = 0; m < kMethodCount; ++m) {
    for (size_t c = 0; c < kCodeCount; ++c) {
      const std::string code = c < std::size(kCodes) ? std::to_string(kCodes[c]) : "other";
      requests_[m][c] = &registry.AddCounter("rendezvous_requests_total",
                                             "HTTP requests answered, by method and status code.",
                                             {{"method", kMethodNames[m]}, {"code", code}});
    }
    durations_[m] =
        &registry.AddHistogram("rendezvous_request_duration_seconds",
                               "Time from a parsed request to its complete response, by method.",
                               kLatencyBucketsSeconds, {{"method", kMethodNames[m]}});
  }
}

size_t RequestStats::CodeIndex(int status) {
  // A handful of compares; the table is short and the common codes come first.
  for (size_t i = 0; i < std::size(kCodes); ++i) {
    if (kCodes[i] == status) return i;
  }
  return std::size(kCodes);
}

KeyStats::KeyStats(common::StatsRegistry& registry) {
  rate_limited_ = &registry.AddCounter("rendezvous_rate_limited_total",
                                       "Requests refused by the per-client rate limit (429).");
  for (size_t o = 0; o < kOpCount; ++o) {
    for (size_t s = 0; s < kStatusCount; ++s) {
      operations_[o][s] = &registry.AddCounter("rendezvous_store_operations_total",
                                               "Store operations, by operation and result.",
                                               {{"op", kOpNames[o]}, {"result", kResultNames[s]}});
    }
    durations_[o] =
        &registry.AddHistogram("rendezvous_store_operation_duration_seconds",
                               "Time from a store call to its completion, by operation.",
                               kLatencyBucketsSeconds, {{"op", kOpNames[o]}});
  }
}

}  // namespace rendezvous::http

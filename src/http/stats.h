// The HTTP layer's metrics, as pre-resolved handles into a common::StatsRegistry (stats.h there):
//   RequestStats (the Router): rendezvous_requests_total{method,code} and
//     rendezvous_request_duration_seconds{method};
//   KeyStats (the key API's Handler): rendezvous_rate_limited_total,
//     rendezvous_store_operations_total{op,result} and
//     rendezvous_store_operation_duration_seconds{op}.
// Every label value comes from a fixed list registered at construction (methods, the status codes
// the server answers, store ops and results), so recording is an array index and an atomic add.
//
// Thread-safety: constructed once; Record* may be called concurrently from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/stats.h"
#include "http/request.h"
#include "kv/store.h"

namespace rendezvous::http {

// Latency buckets in seconds, for requests and store operations alike: from 50 us (a memory
// store answers well below it) to 10 s (the longest a deadline lets a request live).
inline constexpr double kLatencyBucketsSeconds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                    0.0025,  0.005,  0.01,    0.025,  0.05,
                                                    0.1,     0.25,   1,       2.5,    10};

class RequestStats {
 public:
  explicit RequestStats(common::StatsRegistry& registry);

  // One answer with `status` to a request with `method`, after `duration_nanos`. A status the
  // server is not known to answer is counted with code="other".
  void Record(Method method, int status, int64_t duration_nanos) {
    const size_t m = static_cast<size_t>(method);
    requests_[m][CodeIndex(status)]->Increment();
    durations_[m]->ObserveNanos(duration_nanos);
  }

  // Every status code that has its own label value; the rest count as "other".
  static constexpr int kCodes[] = {200, 204, 304, 400, 403, 404, 405, 408, 409, 412,
                                   413, 414, 429, 431, 500, 501, 503, 507};
  static constexpr size_t kCodeCount = std::size(kCodes) + 1;  // + "other"
  static constexpr size_t kMethodCount = static_cast<size_t>(Method::kOther) + 1;

 private:
  static size_t CodeIndex(int status);

  std::array<std::array<common::Counter*, kCodeCount>, kMethodCount> requests_{};
  std::array<common::Histogram*, kMethodCount> durations_{};
};

class KeyStats {
 public:
  enum class Op : uint8_t { kGet, kPut, kDelete };

  explicit KeyStats(common::StatsRegistry& registry);

  void RecordRateLimited() { rate_limited_->Increment(); }
  // One store operation that ended with `status` after `duration_nanos`.
  void RecordStoreOp(Op op, kv::Status status, int64_t duration_nanos) {
    const size_t o = static_cast<size_t>(op);
    operations_[o][static_cast<size_t>(status)]->Increment();
    durations_[o]->ObserveNanos(duration_nanos);
  }

  static constexpr size_t kOpCount = 3;
  static constexpr size_t kStatusCount = static_cast<size_t>(kv::Status::kRateLimited) + 1;

 private:
  common::Counter* rate_limited_ = nullptr;
  std::array<std::array<common::Counter*, kStatusCount>, kOpCount> operations_{};
  std::array<common::Histogram*, kOpCount> durations_{};
};

}  // namespace rendezvous::http

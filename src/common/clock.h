// Clock: the one source of "now" for expiry, rate limiting and logging.
//
// Components take a `const Clock&` so that tests can move a ManualClock instead of sleeping.
// Durations (the latency histograms) come from MonotonicNanos, which never jumps with the wall
// clock.
// Thread-safety: both implementations may be read from any thread; ManualClock may be advanced
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace rendezvous::common {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time. Expiry times are absolute wall-clock times so that they survive a
  // restart of the process (a key's lifetime does not restart with the server).
  virtual absl::Time Now() const = 0;
  // Nanoseconds on a clock that only moves forward, from an unspecified origin: for measuring
  // durations, never for expiry.
  virtual int64_t MonotonicNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  int64_t MonotonicNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to. Starts at `start`. Its monotonic reading is its wall
// reading in Unix nanoseconds, so Advance moves both (Set backwards would move it back: tests
// that measure durations only Advance).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override {
    return absl::FromUnixNanos(nanos_.load(std::memory_order_acquire));
  }
  int64_t MonotonicNanos() const override { return nanos_.load(std::memory_order_acquire); }
  void Advance(absl::Duration d) {
    nanos_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t), std::memory_order_release); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace rendezvous::common

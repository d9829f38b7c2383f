#include "app/sweeper.h"

#include <algorithm>

namespace rendezvous::app {

Sweeper::Sweeper(kv::Store& store, const common::Clock& clock, absl::Duration interval)
    : store_(store), clock_(clock), interval_(interval), thread_([this] { Loop(); }) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Duration Sweeper::IntervalFor(absl::Duration expire) {
  return std::clamp(expire / 10, absl::Seconds(1), absl::Seconds(10));
}

void Sweeper::Loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stop_; })) {
    lock.unlock();
    store_.SweepExpired(clock_.Now());
    lock.lock();
  }
}

}  // namespace rendezvous::app

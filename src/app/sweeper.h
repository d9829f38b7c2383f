// Sweeper: the background thread that frees expired entries.
//
// Expired entries are never served (every read checks expiry); the sweep only gives their memory
// and their slot under -maxNumKV back. It calls Store::SweepExpired every `interval`, which works
// in small chunks so requests never wait behind it.
//
// Thread-safety: construct, then Stop() (or destroy) from the owning thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "common/clock.h"
#include "kv/store.h"

namespace rendezvous::app {

class Sweeper {
 public:
  Sweeper(kv::Store& store, const common::Clock& clock, absl::Duration interval);
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Ends the thread; returns after a sweep in progress has finished.
  void Stop();

  // The sweep interval for a given key lifetime: a tenth of it, between 1 s and 10 s, so short
  // lifetimes are cleaned promptly and long ones do not scan the store needlessly often.
  static absl::Duration IntervalFor(absl::Duration expire);

 private:
  void Loop();

  kv::Store& store_;
  const common::Clock& clock_;
  const absl::Duration interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rendezvous::app

// WaiterRegistry: the long-poll requests parked until their key changes (GET with a wait).
//
// A waiter is a small fixed-size record (Waiter) that lives in the request's Response block (the
// connection's heap block, which stays alive until the request's completion runs) and is linked
// into an intrusive list per key, in a map key -> list split over lock stripes by the key's hash.
// A write wakes only the waiters of its key: the store's change listener calls OnChange, which
// unlinks that key's list under its stripe lock and queues the waiters for the waker (never
// calling the store from the listener, as kv/store.h requires). The waker (a thread of this
// registry, or the test calling Drain) hands each one to the owner's `fired` callback, which reads
// the key again and answers, or links the waiter again when nothing it waits for changed.
//
// One rule makes the lifetime safe: each time a waiter is linked it is "fired" exactly once, by
// whoever unlinks it under its stripe lock (a write, the wait's end, the client leaving, shutdown,
// or the request that registered it answering at once); only the one that fired it may complete
// the request or link it again. The wait's end and the client leaving (End) also mark it ended, so
// that a holder that would link it again answers instead. Bounds: waiters per client
// (ratelimit::ClientKey) and in total, checked when a waiter is added.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"

namespace rendezvous::http {

struct Response;

// One parked request. Fixed size; owned by the Response it belongs to (InFlight::waiter).
struct Waiter {
  Response* response = nullptr;
  Waiter* prev = nullptr;  // the key's list, guarded by the stripe lock
  Waiter* next = nullptr;
  bool linked = false;     // in its key's list; guarded by the stripe lock
  // The wait is over (its end, or the client left): it may no longer be linked again. Guarded by
  // the stripe lock once the waiter was first added.
  bool ended = false;
  // The request's first read is in flight: whoever unlinks the waiter meanwhile only records why
  // (ended, woken) and leaves the answer to that read (FinishRead), which still uses the Response.
  bool pinned = false;
  bool woken = false;                // unlinked by a wake (or shutdown) while pinned
  std::array<uint8_t, 16> client{};  // whose per-client count it holds
};

class WaiterRegistry {
 public:
  enum class AddResult : uint8_t { kAdded, kClientFull, kFull, kClosed, kEnded };
  struct Options {
    size_t max_waiters = 10000;         // -maxWaiters
    size_t max_waiters_per_client = 32;
    size_t stripes = 64;
    bool start_waker_thread = true;     // false: the test calls Drain
  };
  // `fired` answers a waiter that a write or shutdown fired; it runs on the waker.
  WaiterRegistry(const Options& options, absl::AnyInvocable<void(Waiter&)> fired);
  ~WaiterRegistry();  // stops the waker after it has answered what was queued
  WaiterRegistry(const WaiterRegistry&) = delete;
  WaiterRegistry& operator=(const WaiterRegistry&) = delete;

  // Links `waiter` under `key` (copied only when the key has no list yet); kEnded, linking
  // nothing, once End was called on it (the caller clears `ended` before a new request's first
  // Add). `pin`: the caller reads the key next and must then call FinishRead.
  [[nodiscard]] AddResult Add(std::string_view key, Waiter& waiter, bool pin = false);
  // The end of the wait (or the client leaving): marks the waiter ended and unlinks it if it is
  // linked. True when the caller fired it (and must complete the request); false when someone
  // else holds it (a wake re-reading it, or its first read: they answer, seeing it ended).
  [[nodiscard]] bool End(std::string_view key, Waiter& waiter);
  // The pinned first read of `waiter` is done; `answers`: its result answers the request.
  enum class ReadOutcome : uint8_t {
    kAnswer,  // the caller answers now (the result answers, or the wait ended meanwhile)
    kParked,  // linked: from here another party fires it; the caller touches nothing more
    kQueued,  // a wake or shutdown came during the read: queued for the waker to read again
  };
  [[nodiscard]] ReadOutcome FinishRead(std::string_view key, Waiter& waiter, bool answers);
  // The change listener's part: fires every waiter of `key` and queues it for the waker.
  void OnChange(std::string_view key);
  // Shutdown: fires and queues every waiter; later Adds answer kClosed.
  void CloseAll();
  // Fires and queues every waiter, as if each key had changed (the store may have missed
  // changes): each reads its key again and answers. Later Adds are accepted.
  void WakeAll();
  // Runs `fired` for every queued waiter, on the calling thread; returns how many.
  size_t Drain();
  // Shutdown, after CloseAll and once no connection waits for an answer: the waker answers what
  // is queued and stops, so that nothing calls the store after this returns. Idempotent.
  void StopWaker();

  size_t size() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Stripe;
  Stripe& StripeFor(std::string_view key);
  void Unlink(Stripe& stripe, std::string_view key, Waiter& waiter);  // stripe lock held
  void Queue(std::deque<Waiter*>& fired);
  void FireAll();
  void WakerLoop();

  const Options options_;
  absl::AnyInvocable<void(Waiter&)> fired_;
  std::unique_ptr<Stripe[]> stripes_;
  std::atomic<size_t> total_{0};
  std::atomic<bool> closed_{false};
  std::mutex clients_mu_;
  absl::flat_hash_map<std::array<uint8_t, 16>, uint32_t> per_client_;  // guarded by clients_mu_
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Waiter*> queue_;  // guarded by queue_mu_
  bool stopping_ = false;      // guarded by queue_mu_
  std::thread waker_;
};

}  // namespace rendezvous::http

// WaiterRegistry: the long-poll requests parked until their key changes (GET with a wait).
//
// A waiter is a small fixed-size record (Waiter) that lives in the request's Response block (the
// connection's heap block, which stays alive until the request's completion runs) and is linked
// into an intrusive list per key, in a map key -> list split over lock stripes by the key's hash.
// There are two such maps, one per WaitOn: waiters of a store key (GET /KEY) and waiters of a
// listing (GET /ip/*/NAME, keyed by NAME), so that a key and a name that happen to be equal never
// wake each other's waiters. A write wakes only the waiters of its key and, when the key is an
// announcement (kv/announcement.h), those of its name's listing: the store's change listener
// calls OnStoreChange, which unlinks those lists under their stripe locks and queues the waiters
// for the waker (never calling the store from the listener, as kv/store.h requires). The waker (a
// thread of this registry, or the test calling Drain) hands each one to its WaitAnswerer (or,
// when it has none, to the owner's `fired` callback), which reads the state again and answers.
//
// One rule makes the lifetime safe: a waiter is "fired" exactly once, by whoever unlinks it under
// its stripe lock (a write, the wait's end, the client leaving, shutdown, or the request that
// registered it answering at once); only the one that fired it may complete the request. Bounds:
// waiters per client (ratelimit::ClientKey) and in total, checked when a waiter is added.
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

// What a waiter waits on: a store key, or the listing of a name (the announcements of it).
enum class WaitOn : uint8_t { kKey, kListing };

// Answers a parked request that a write, the wait's end or shutdown fired: reads the state again
// and completes the response. Called on the waker thread or on the connection's.
class WaitAnswerer {
 public:
  virtual void AnswerFired(Response& response) = 0;

 protected:
  ~WaitAnswerer() = default;
};

// One parked request. Fixed size; owned by the Response it belongs to (InFlight::waiter).
struct Waiter {
  Response* response = nullptr;
  Waiter* prev = nullptr;  // the key's list, guarded by the stripe lock
  Waiter* next = nullptr;
  bool linked = false;               // in its key's list; guarded by the stripe lock
  WaitOn on = WaitOn::kKey;          // which map its list is in; set by Add
  WaitAnswerer* answerer = nullptr;  // set by Add; null: the registry's `fired`
  std::array<uint8_t, 16> client{};  // whose per-client count it holds
};

class WaiterRegistry {
 public:
  enum class AddResult : uint8_t { kAdded, kClientFull, kFull, kClosed };
  struct Options {
    size_t max_waiters = 10000;         // -maxWaiters
    size_t max_waiters_per_client = 32;
    size_t stripes = 64;
    bool start_waker_thread = true;     // false: the test calls Drain
  };
  // `fired` answers a waiter that a write or shutdown fired and that names no WaitAnswerer (Add
  // with a null answerer); it runs on the waker.
  WaiterRegistry(const Options& options, absl::AnyInvocable<void(Waiter&)> fired);
  ~WaiterRegistry();  // stops the waker after it has answered what was queued
  WaiterRegistry(const WaiterRegistry&) = delete;
  WaiterRegistry& operator=(const WaiterRegistry&) = delete;

  // Links `waiter` under `key` in the map of `on` (the key is copied only when it has no list
  // yet); a write, shutdown or Answer hands it to `answerer` (null: the registry's `fired`).
  [[nodiscard]] AddResult Add(std::string_view key, Waiter& waiter, WaitOn on = WaitOn::kKey,
                              WaitAnswerer* answerer = nullptr);
  // Unlinks `waiter` if it is still linked under `key`: true when the caller fired it (and must
  // complete the request), false when someone else did.
  [[nodiscard]] bool Fire(std::string_view key, Waiter& waiter);
  // Answers a waiter the caller fired, on the calling thread, as the waker would.
  void Answer(Waiter& waiter);
  // Fires every waiter of `key` in the map of `on` and queues it for the waker.
  void OnChange(std::string_view key, WaitOn on = WaitOn::kKey);
  // The store's change listener: the waiters of the written key, and those of the listing of
  // its name when it is an announcement.
  void OnStoreChange(std::string_view key);
  // Shutdown: fires and queues every waiter; later Adds answer kClosed.
  void CloseAll();
  // Runs `fired` for every queued waiter, on the calling thread; returns how many.
  size_t Drain();
  // Stops the waker thread after it has answered what was queued, and joins it (idempotent; the
  // destructor calls it). The server calls it after its shutdown, before it destroys the store:
  // the waker's last reads of the store then happen before the store goes.
  void StopWaker();

  size_t size() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Stripe;
  Stripe& StripeFor(std::string_view key);
  size_t stripe_count() const { return options_.stripes == 0 ? 1 : options_.stripes; }
  void Unlink(Stripe& stripe, std::string_view key, Waiter& waiter);  // stripe lock held
  void Queue(std::deque<Waiter*>& fired);
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

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
// thread of this registry, or the test calling Drain) hands each one to its WaitAnswerer, which
// reads the state again and answers, or links the waiter again when nothing it waits for changed.
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

namespace rendezvous::http {

struct Response;

// What a waiter waits on: a store key, or the listing of a name (the announcements of it).
enum class WaitOn : uint8_t { kKey, kListing };

// The owner of a kind of wait (the key API, the listing): it re-checks a waiter the registry
// fired and answers the request. Both methods run on the waker, or on the connection's thread
// (the wait's end), and complete the request exactly once unless they link it again.
class WaitAnswerer {
 public:
  // Fired by a wake (a write, a wake of all) or shutdown; a wake is a hint, not a change: read
  // again (Add pinned, then FinishRead) and answer only when that answers the request, else
  // leave it parked for the rest of its wait. Add refuses (kEnded, kClosed) once the wait ended
  // or the server shuts down: then answer from the state.
  virtual void RecheckWoken(Response& response) = 0;
  // The wait ended (End returned true): read once more and answer (304 when unchanged).
  virtual void AnswerFired(Response& response) = 0;

 protected:
  ~WaitAnswerer() = default;
};

// One parked request. Fixed size; owned by the Response it belongs to (InFlight::waiter).
struct Waiter {
  Response* response = nullptr;
  Waiter* prev = nullptr;  // the key's list, guarded by the stripe lock
  Waiter* next = nullptr;
  bool linked = false;  // in its key's list; guarded by the stripe lock
  // The wait is over (its end, or the client left): it may no longer be linked again. Guarded by
  // the stripe lock once the waiter was first added.
  bool ended = false;
  // The request's first read is in flight: whoever unlinks the waiter meanwhile only records why
  // (ended, woken) and leaves the answer to that read (FinishRead), which still uses the Response.
  bool pinned = false;
  bool woken = false;                // unlinked by a wake (or shutdown) while pinned
  WaitOn on = WaitOn::kKey;          // which map its list is in; set before the first Add
  WaitAnswerer* answerer = nullptr;  // who re-checks it when fired; set before the first Add
  std::array<uint8_t, 16> client{};  // whose per-client count it holds
};

class WaiterRegistry {
 public:
  enum class AddResult : uint8_t { kAdded, kClientFull, kFull, kClosed, kEnded };
  struct Options {
    size_t max_waiters = 10000;  // -maxWaiters
    size_t max_waiters_per_client = 32;
    size_t stripes = 64;
    bool start_waker_thread = true;  // false: the test calls Drain
  };
  explicit WaiterRegistry(const Options& options);
  ~WaiterRegistry();  // stops the waker after it has answered what was queued
  WaiterRegistry(const WaiterRegistry&) = delete;
  WaiterRegistry& operator=(const WaiterRegistry&) = delete;

  // Links `waiter` under `key` in the map of waiter.on (the key is copied only when it has no
  // list yet); kEnded, linking nothing, once End was called on it (the caller clears `ended`
  // before a new request's first Add). waiter.answerer must be set. `pin`: the caller reads the
  // state next and must then call FinishRead.
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
  // Fires every waiter of `key` in the map of `on` and queues it for the waker.
  void OnChange(std::string_view key, WaitOn on = WaitOn::kKey);
  // The store's change listener: the waiters of the written key, and those of the listing of
  // its name when it is an announcement.
  void OnStoreChange(std::string_view key);
  // Shutdown: fires and queues every waiter of both maps; later Adds answer kClosed.
  void CloseAll();
  // Fires and queues every waiter of both maps, as if everything had changed (the store may have
  // missed changes): each reads its state again. Later Adds are accepted.
  void WakeAll();
  // Re-checks every queued waiter (its answerer's RecheckWoken), on the calling thread; returns
  // how many.
  size_t Drain();
  // Shutdown, after CloseAll and once no connection waits for an answer: the waker answers what
  // is queued and stops, so that nothing calls the store after this returns. Idempotent.
  void StopWaker();

  size_t size() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Stripe;
  Stripe& StripeFor(std::string_view key);
  void Unlink(Stripe& stripe, std::string_view key, Waiter& waiter);  // stripe lock held
  // Unlinks a whole list (its head's map entry already erased); pinned ones are only marked.
  void FireList(Waiter* head, std::deque<Waiter*>& fired);  // stripe lock held
  void Queue(std::deque<Waiter*>& fired);
  void FireAll();
  void WakerLoop();

  const Options options_;
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

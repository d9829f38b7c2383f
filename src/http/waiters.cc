// The registry of parked long-poll requests. See waiters.h for the firing rule.
#include "http/waiters.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "kv/announcement.h"

namespace rendezvous::http {

struct alignas(64) WaiterRegistry::Stripe {
  std::mutex mu;
  // One map per WaitOn: key -> first waiter; guarded by mu.
  std::array<absl::flat_hash_map<std::string, Waiter*>, 2> heads;
  absl::flat_hash_map<std::string, Waiter*>& For(WaitOn on) {
    return heads[static_cast<size_t>(on)];
  }
};

WaiterRegistry::WaiterRegistry(const Options& options)
    : options_(options),
      stripes_(std::make_unique<Stripe[]>(std::max<size_t>(options.stripes, 1))) {
  if (options_.start_waker_thread) waker_ = std::thread([this] { WakerLoop(); });
}

WaiterRegistry::~WaiterRegistry() { StopWaker(); }

void WaiterRegistry::StopWaker() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (waker_.joinable()) waker_.join();
}

WaiterRegistry::Stripe& WaiterRegistry::StripeFor(std::string_view key) {
  const size_t h = absl::Hash<absl::string_view>{}(absl::string_view(key.data(), key.size()));
  return stripes_[(h >> 7) % std::max<size_t>(options_.stripes, 1)];
}

WaiterRegistry::AddResult WaiterRegistry::Add(std::string_view key, Waiter& waiter, bool pin) {
  if (closed_.load(std::memory_order_acquire)) return AddResult::kClosed;
  {
    std::lock_guard lock(clients_mu_);
    if (total_.load(std::memory_order_relaxed) >= options_.max_waiters) return AddResult::kFull;
    uint32_t& mine = per_client_[waiter.client];
    if (mine >= options_.max_waiters_per_client) {
      if (mine == 0) per_client_.erase(waiter.client);
      return AddResult::kClientFull;
    }
    ++mine;
    total_.fetch_add(1, std::memory_order_relaxed);
  }
  Stripe& stripe = StripeFor(key);
  std::lock_guard lock(stripe.mu);
  if (waiter.ended) {
    std::lock_guard clients(clients_mu_);  // the order Unlink takes them in
    auto it = per_client_.find(waiter.client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return AddResult::kEnded;
  }
  Waiter*& head = stripe.For(waiter.on)[absl::string_view(key.data(), key.size())];
  waiter.pinned = pin;
  waiter.woken = false;
  waiter.prev = nullptr;
  waiter.next = head;
  if (head != nullptr) head->prev = &waiter;
  head = &waiter;
  waiter.linked = true;
  return AddResult::kAdded;
}

void WaiterRegistry::Unlink(Stripe& stripe, std::string_view key, Waiter& waiter) {
  if (waiter.prev != nullptr) {
    waiter.prev->next = waiter.next;
  } else {
    auto& heads = stripe.For(waiter.on);
    auto it = heads.find(absl::string_view(key.data(), key.size()));
    if (it != heads.end()) {
      it->second = waiter.next;
      if (it->second == nullptr) heads.erase(it);
    }
  }
  if (waiter.next != nullptr) waiter.next->prev = waiter.prev;
  waiter.prev = waiter.next = nullptr;
  waiter.linked = false;
  {
    std::lock_guard lock(clients_mu_);
    auto it = per_client_.find(waiter.client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    total_.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool WaiterRegistry::End(std::string_view key, Waiter& waiter) {
  Stripe& stripe = StripeFor(key);
  std::lock_guard lock(stripe.mu);
  waiter.ended = true;
  if (!waiter.linked) return false;
  Unlink(stripe, key, waiter);
  return !waiter.pinned;
}

WaiterRegistry::ReadOutcome WaiterRegistry::FinishRead(std::string_view key, Waiter& waiter,
                                                       bool answers) {
  {
    Stripe& stripe = StripeFor(key);
    std::lock_guard lock(stripe.mu);
    waiter.pinned = false;
    // After CloseAll nothing is queued any more (the waker stops): shutdown answers from this read.
    if (waiter.ended || answers || closed_.load(std::memory_order_acquire)) {
      if (waiter.linked) Unlink(stripe, key, waiter);
      return ReadOutcome::kAnswer;
    }
    if (waiter.linked) return ReadOutcome::kParked;
  }
  // Woken during the read: the key may have changed after it; the waker reads it again.
  std::deque<Waiter*> woken = {&waiter};
  Queue(woken);
  return ReadOutcome::kQueued;
}

void WaiterRegistry::OnStoreChange(std::string_view key) {
  if (total_.load(std::memory_order_relaxed) == 0) return;  // the common case: nobody waits
  OnChange(key, WaitOn::kKey);
  if (const std::optional<kv::Announcement> announcement = kv::ParseAnnouncement(key)) {
    OnChange(announcement->name, WaitOn::kListing);
  }
}

void WaiterRegistry::OnChange(std::string_view key, WaitOn on) {
  if (total_.load(std::memory_order_relaxed) == 0) return;  // the common case: nobody waits
  std::deque<Waiter*> fired;
  Stripe& stripe = StripeFor(key);
  {
    std::lock_guard lock(stripe.mu);
    auto& heads = stripe.For(on);
    auto it = heads.find(absl::string_view(key.data(), key.size()));
    if (it == heads.end()) return;
    Waiter* head = it->second;
    heads.erase(it);
    FireList(head, fired);
  }
  Queue(fired);
}

void WaiterRegistry::FireList(Waiter* w, std::deque<Waiter*>& fired) {
  size_t n = 0;
  std::lock_guard clients(clients_mu_);
  while (w != nullptr) {
    Waiter* next = w->next;
    w->prev = w->next = nullptr;
    w->linked = false;
    auto c = per_client_.find(w->client);
    if (c != per_client_.end() && --c->second == 0) per_client_.erase(c);
    ++n;
    // A pinned waiter's first read answers it (FinishRead), knowing it was woken.
    if (w->pinned) {
      w->woken = true;
    } else {
      fired.push_back(w);
    }
    w = next;
  }
  total_.fetch_sub(n, std::memory_order_relaxed);
}

void WaiterRegistry::CloseAll() {
  closed_.store(true, std::memory_order_release);
  FireAll();
}

void WaiterRegistry::WakeAll() { FireAll(); }

void WaiterRegistry::FireAll() {
  const size_t stripes = std::max<size_t>(options_.stripes, 1);
  for (size_t i = 0; i < stripes; ++i) {
    std::deque<Waiter*> fired;
    {
      std::lock_guard lock(stripes_[i].mu);
      for (auto& heads : stripes_[i].heads) {  // keys and listings
        for (auto& [key, head] : heads) FireList(head, fired);
        heads.clear();
      }
    }
    Queue(fired);
  }
}

void WaiterRegistry::Queue(std::deque<Waiter*>& fired) {
  if (fired.empty()) return;
  {
    std::lock_guard lock(queue_mu_);
    for (Waiter* w : fired) queue_.push_back(w);
  }
  queue_cv_.notify_one();
}

size_t WaiterRegistry::Drain() {
  std::deque<Waiter*> batch;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
  }
  for (Waiter* w : batch) w->answerer->RecheckWoken(*w->response);
  return batch.size();
}

void WaiterRegistry::WakerLoop() {
  std::unique_lock lock(queue_mu_);
  while (true) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    std::deque<Waiter*> batch;
    batch.swap(queue_);
    lock.unlock();
    for (Waiter* w : batch) w->answerer->RecheckWoken(*w->response);
    lock.lock();
  }
}

}  // namespace rendezvous::http

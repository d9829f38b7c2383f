#include "net/connection_limiter.h"

namespace rendezvous::net {

ConnectionLimiter::ConnectionLimiter(size_t max_total, size_t max_per_client,
                                     int ipv6_prefix_bits)
    : max_total_(max_total), max_per_client_(max_per_client), ipv6_prefix_bits_(ipv6_prefix_bits) {}

bool ConnectionLimiter::TryAcquire(const common::IpAddress& peer, bool exempt) {
  if (total_.fetch_add(1, std::memory_order_relaxed) >= max_total_) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  if (exempt) return true;
  std::lock_guard lock(mutex_);
  uint32_t& count = per_client_[ratelimit::ClientKey::For(peer, ipv6_prefix_bits_)];
  if (count >= max_per_client_) {  // count > 0 here: the entry existed
    total_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  ++count;
  return true;
}

void ConnectionLimiter::Release(const common::IpAddress& peer, bool exempt) {
  total_.fetch_sub(1, std::memory_order_relaxed);
  if (exempt) return;
  std::lock_guard lock(mutex_);
  auto it = per_client_.find(ratelimit::ClientKey::For(peer, ipv6_prefix_bits_));
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

}  // namespace rendezvous::net

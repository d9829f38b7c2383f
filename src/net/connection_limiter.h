// ConnectionLimiter: caps on open connections, in total and per client, shared by all workers.
//
// Defends against a client (or a botnet) that holds connections open to exhaust file descriptors
// and memory: past the total cap new connections are closed right after accept, and one client
// can hold at most `max_per_client` of them, so established clients keep being served. "Client"
// is the TCP peer grouped as the rate limiter groups it (IPv4 address, IPv6 /ipv6_prefix_bits),
// so rotating addresses inside one /64 gives no extra connections. Trusted proxies are exempt
// from the per-client cap (every client behind them shares their address) but count in the
// total.
//
// Memory: one entry per client with an open connection, so at most `max_total` entries.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "common/ip_address.h"
#include "ratelimit/limiter.h"

namespace rendezvous::net {

class ConnectionLimiter {
 public:
  // Both caps at least 1.
  ConnectionLimiter(size_t max_total, size_t max_per_client, int ipv6_prefix_bits);

  // Takes a slot for a new connection from `peer`; false when a cap is reached (the caller
  // closes the connection). `exempt` skips the per-client cap (trusted proxies).
  [[nodiscard]] bool TryAcquire(const common::IpAddress& peer, bool exempt);
  // Gives back the slot of a connection TryAcquire admitted, with the same arguments.
  void Release(const common::IpAddress& peer, bool exempt);

  size_t open_connections() const { return total_.load(std::memory_order_relaxed); }

 private:
  const size_t max_total_;
  const size_t max_per_client_;
  const int ipv6_prefix_bits_;
  std::atomic<size_t> total_{0};
  std::mutex mutex_;
  absl::flat_hash_map<ratelimit::ClientKey, uint32_t> per_client_;  // open connections
};

}  // namespace rendezvous::net

// ServerOptions: what the connection layer needs from the validated Config (app/ fills it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "net/client_address.h"

namespace rendezvous::net {

struct ServerOptions {
  common::IpAddress listen_address;  // 0.0.0.0 and :: listen dual-stack
  uint16_t port = 80;                // 0: the kernel picks one (tests); Server::port() tells
  int threads = 1;                   // one io_context (and acceptor) per thread

  size_t header_limit_bytes = 8192;  // request line + header block; past it: 431
  // The request-target; past it: 414 (the request-line alone may take this much; the header
  // fields keep header_limit_bytes). app/ sets max(8 KiB, 3 x -maxKeySize + 1 KiB), so that
  // every valid key fits, percent-encoded, in an absolute-form target.
  size_t max_target_bytes = 8192;
  size_t body_limit_bytes = 1000;    // -maxValueSize; past it: 413 (never buffered beyond)
  // A larger body limit for the targets whose path starts with wide_body_path_prefix (empty:
  // none). app/ sets "/pk/" and the largest signed record (1072 bytes), so a full record fits
  // whatever -maxValueSize says while every other path keeps -maxValueSize.
  std::string wide_body_path_prefix;
  size_t wide_body_limit_bytes = 0;
  size_t output_limit_bytes = 256 * 1024;  // pending responses; past it, stop reading (pipelining)

  absl::Duration header_timeout = absl::Seconds(10);  // first byte of a request -> header complete
  absl::Duration body_timeout = absl::Seconds(10);    // header complete -> body complete
  absl::Duration write_timeout = absl::Seconds(10);   // a response write in progress
  absl::Duration idle_timeout = absl::Seconds(60);    // keep-alive wait between requests
  absl::Duration linger_timeout = absl::Seconds(2);   // reading leftovers before a close
  // A request in the handler (and the store): past it, 503 with Retry-After and the connection
  // goes on; the store's late answer is dropped.
  absl::Duration store_timeout = absl::Seconds(10);
  // TLS: accept -> handshake complete (then the header deadline starts). Past it the connection
  // closes without an answer (there is no channel to answer on yet).
  absl::Duration tls_handshake_timeout = absl::Seconds(10);

  ProxyPolicy proxies;  // who may set the client address with X-Forwarded-For

  // Open connections: past the total cap, or past the per-client cap for one client (grouped like
  // the rate limiter: IPv4 address, IPv6 prefix), new connections are closed at once.
  size_t max_connections = 10000;
  size_t max_connections_per_client = 128;
  int ipv6_prefix_bits = 64;
};

}  // namespace rendezvous::net

// RedirectHandler: the plain listener's handler under -redirectHTTP. Every request (the index page
// and every key, any method) is answered 308 Permanent Redirect to the same path and query on
// https://, at the host the client asked for (its Host header, without the port) and the TLS port
// (left out when it is 443). 308 rather than 301: a client repeats the same method and body at the
// new URL, so a POST stays a POST.
//
// A request whose Host header is missing or not a plain host name, IPv4 address or bracketed IPv6
// address (with an optional port) is answered 400: the Location would otherwise carry whatever
// bytes a client put there. The redirect costs no rate-limit token and touches no store.
//
// Thread-safety: Handle may run concurrently on every I/O thread. set_tls_port may be called at any
// time (app/ calls it once the TLS listener has its port, which the kernel picks when -tlsPort is
// 0, before it announces that the server listens).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/request_handler.h"

namespace rendezvous::http {

class RedirectHandler final : public RequestHandler {
 public:
  explicit RedirectHandler(uint16_t tls_port) : tls_port_(tls_port) {}
  void set_tls_port(uint16_t port) { tls_port_.store(port, std::memory_order_relaxed); }
  void Handle(const Request& request, Response& response, Done done) override;

  // The https:// URL for `host` (a Host header value) and `target` (the request-target), or
  // nullopt when either cannot be used.
  std::optional<std::string> Location(std::string_view host, std::string_view target) const;

 private:
  std::atomic<uint16_t> tls_port_;
};

}  // namespace rendezvous::http

// PublicOrigin: the scheme and host a client used to reach this server, for the index page's
// examples. Behind a reverse proxy the TCP connection says neither: a trusted proxy tells them in
// Forwarded (RFC 7239) or X-Forwarded-Proto / X-Forwarded-Host, which net/ passes on only from
// a trusted peer (request.h).
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "http/request.h"

namespace rendezvous::http {

struct PublicOrigin {
  bool https = false;
  std::string_view host;  // points into the request; unvalidated when it is the Host header
};

// The origin for `request`:
// - the scheme is the last X-Forwarded-Proto entry, else the `proto` parameter of the last
//   Forwarded element that has one, else http; only "http" and "https" (any case) count;
// - the host is the last X-Forwarded-Host entry, else the `host` parameter of the last Forwarded
//   element that has one, when it is a plausible host (IsPlausibleHost); else the Host header.
// X-Forwarded-* first: nginx (proxy_set_header) and Caddy write those and replace what the client
// sent, while both pass a client's Forwarded header through untouched. The last entry, not the
// first: a proxy that appends leaves the client's inventions to the left of its own entry.
PublicOrigin ResolvePublicOrigin(const Request& request);

// 1..255 bytes of [A-Za-z0-9.:[]-]: a name, an IPv4 address or a bracketed IPv6 address, with an
// optional port. A subset of what a Host header may hold, and it needs no HTML or shell escaping.
bool IsPlausibleHost(std::string_view host);

}  // namespace rendezvous::http

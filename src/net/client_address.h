// Client address: who is the client behind a TCP peer, given X-Forwarded-For and trusted proxies.
//
// Pure logic on parsed addresses and header values; no sockets and no Boost, so it is tested
// without a network. The session passes the peer address and every X-Forwarded-For line.
//
// Why right to left: each proxy appends the address it received the request from, so the
// right-most entries are the ones our own (trusted) proxies wrote, and everything left of the
// first untrusted hop was written by the client and is worth nothing. The original server took
// the left-most parseable entry from any loopback or private peer, which let any client choose its
// own address.
//
// Thread-safety: ProxyPolicy is immutable after construction and may be shared by all threads;
// the functions are pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "common/ip_address.h"

namespace rendezvous::net {

// The default of -trustedProxies: loopback only, i.e. a reverse proxy on the same machine. Not
// the private ranges: on a LAN, a mesh network or a container bridge any peer there could then
// choose the address its /ip/ keys and rate limit are charged to. A proxy elsewhere is added
// with -trustedProxies.
inline constexpr std::string_view kDefaultTrustedProxies = "127.0.0.0/8,::1/128";

// The peers whose X-Forwarded-For is believed (-trustedProxies).
struct ProxyPolicy {
  std::vector<common::CidrBlock> trusted;

  // kDefaultTrustedProxies, parsed.
  static ProxyPolicy Default();
  bool IsTrusted(const common::IpAddress& address) const;
};

// Parses a -trustedProxies value: CIDR blocks or bare addresses separated by commas, each
// trimmed of spaces and tabs ("10.0.0.0/8, ::1"). An empty (or all-blank) string is an empty
// list: trust nobody. On a malformed or empty entry returns nullopt and, if `error` is not null,
// sets it to a one-line message naming the entry.
std::optional<std::vector<common::CidrBlock>> ParseCidrList(std::string_view comma_separated,
                                                            std::string* error);

struct ClientResolution {
  common::IpAddress client;
  bool forwarded = false;  // true if `client` came from X-Forwarded-For rather than the peer
};

// At most this many X-Forwarded-For entries are examined, counted from the right. Real chains
// are a handful of hops; the bound keeps a hostile header (thousands of trusted-looking entries
// in 8 KiB) from costing unbounded parsing work on every request.
inline constexpr int kMaxForwardedEntries = 32;

// Resolves the client of a request that arrived from `peer` with the given X-Forwarded-For
// header lines (in the order received; each line's value only).
//
// - An untrusted peer is the client; its X-Forwarded-For is ignored.
// - Otherwise the lines, joined by commas, are read right to left, each entry trimmed of spaces
//   and tabs: trusted entries are skipped, and the first untrusted entry is the client.
// - An empty or malformed entry (anything IpAddress::Parse rejects: "unknown", "1.2.3.4:5555",
//   "001.2.3.4", "[::1]") stops the walk: the last trusted hop (the peer, or the last skipped
//   entry) is the client. The same holds when every entry is trusted, or after
//   kMaxForwardedEntries entries.
// Other headers (X-Real-IP, Forwarded) are never consulted.
ClientResolution ResolveClient(const common::IpAddress& peer,
                               absl::Span<const std::string_view> xff_lines,
                               const ProxyPolicy& policy);

}  // namespace rendezvous::net

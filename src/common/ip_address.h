// IpAddress: an IPv4 or IPv6 address as plain bytes, free of any socket library.
//
// IPv4 addresses are kept in their IPv4-mapped IPv6 form (::ffff:a.b.c.d) so that one type and
// one comparison serve both families; an IPv4-mapped IPv6 address *is* the IPv4 address here
// (a client cannot get a second rate-limit bucket or `/ip/` namespace by writing it differently).
// Value type; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rendezvous::common {

class IpAddress {
 public:
  using Bytes = std::array<uint8_t, 16>;

  IpAddress() = default;                         // ::  (the IPv6 unspecified address)
  static IpAddress FromV4(uint32_t host_order);  // 0x01020304 is 1.2.3.4
  static IpAddress FromV6(const Bytes& bytes);   // a mapped address becomes IPv4

  // Parses the strict textual form: dotted quad (no leading zeros, no port) or RFC 4291 IPv6
  // text (no zone id, no brackets, no port). Returns nullopt for anything else.
  static std::optional<IpAddress> Parse(std::string_view text);

  bool is_v4() const;
  const Bytes& bytes() const { return bytes_; }
  // Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, longest zero run "::").
  std::string ToString() const;
  bool IsLoopback() const;

  // This address with every bit past `prefix_bits` cleared. For IPv4 the prefix counts IPv4 bits.
  IpAddress Masked(int prefix_bits) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  Bytes bytes_{};
};

// A CIDR block such as 10.0.0.0/8 or fc00::/7.
//
// Families never mix: an IPv4 block contains only IPv4 addresses and an IPv6 block only IPv6
// addresses, so "::/0" does not silently trust every IPv4 client too.
struct CidrBlock {
  IpAddress base;       // already masked
  int prefix_bits = 0;  // 0..32 for IPv4, 0..128 for IPv6

  // "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128). The address part follows
  // IpAddress::Parse; the prefix is decimal without sign or leading zeros. Host bits set in the
  // base ("10.1.2.3/8") are cleared, as Go's net.ParseCIDR does. An IPv4-mapped base is IPv4, so
  // its prefix counts IPv4 bits. nullopt on malformed input or an out-of-range prefix.
  static std::optional<CidrBlock> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  // "base/prefix" in canonical text, e.g. "10.0.0.0/8".
  std::string ToString() const;

  friend bool operator==(const CidrBlock&, const CidrBlock&) = default;
};

}  // namespace rendezvous::common

// IpAddress and CidrBlock: strict parsing (a dotted quad by hand, IPv6 through inet_pton),
// canonical printing.
#include "common/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rendezvous::common {
namespace {

// The 12-byte prefix of an IPv4-mapped IPv6 address (::ffff:0:0/96).
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Longest textual IPv6 address: eight 4-digit groups or six groups plus a dotted quad.
constexpr size_t kMaxTextBytes = 45;

// inet_pton needs a NUL-terminated string; copying a string_view with an embedded NUL would let
// "1.2.3.4\0junk" through, and glibc's parser tolerates nothing else we care about. So only the
// characters that can appear in an address are let through to it.
bool HasOnlyAddressCharacters(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
  });
}

// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero groups
// (the first one on a tie) becomes "::"; a single zero group is written as "0".
//
// Written by hand rather than with inet_ntop because glibc prints addresses whose first 96 bits
// are zero (the deprecated IPv4-compatible form) in dotted notation, e.g. "::1:2" as "::0.1.0.2".
// IPv4-mapped addresses never get here: they are IPv4 and printed as a dotted quad.
std::string FormatV6(const IpAddress::Bytes& bytes) {
  uint16_t groups[8];
  for (int i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  }

  int best_start = -1, best_length = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int start = i;
    while (i < 8 && groups[i] == 0) ++i;
    if (i - start > best_length) {
      best_start = start;
      best_length = i - start;
    }
  }
  if (best_length < 2) best_start = -1;

  std::string out;
  out.reserve(39);
  char hex[8];
  for (int i = 0; i < 8;) {
    if (i == best_start) {
      out += "::";
      i += best_length;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    int n = snprintf(hex, sizeof(hex), "%x", groups[i]);
    out.append(hex, static_cast<size_t>(n));
    ++i;
  }
  return out;
}

// The strict dotted quad: exactly four decimal octets of 1 to 3 digits, no leading zeros (which
// other parsers read as octal), each at most 255 — the form glibc's inet_pton(AF_INET) accepts,
// which ip_address_test checks against it. By hand because it runs for every X-Forwarded-For
// entry and inet_pton needs a NUL-terminated copy and a scan for ':' first.
std::optional<uint32_t> ParseDottedQuad(std::string_view text) {
  uint32_t address = 0;
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i == text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
    const size_t start = i;
    uint32_t value = 0;
    while (i < text.size() && i - start < 3 && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + static_cast<uint32_t>(text[i] - '0');
      ++i;
    }
    const size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return std::nullopt;
    address = address << 8 | value;
  }
  if (i != text.size()) return std::nullopt;  // also a fourth digit in the last octet
  return address;
}

// Decimal prefix length without sign or leading zeros; -1 if malformed.
int ParsePrefixBits(std::string_view text) {
  if (text.empty() || text.size() > 3) return -1;
  if (text.size() > 1 && text[0] == '0') return -1;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

IpAddress IpAddress::FromV4(uint32_t host_order) {
  IpAddress address;
  std::copy(std::begin(kMappedPrefix), std::end(kMappedPrefix), address.bytes_.begin());
  address.bytes_[12] = static_cast<uint8_t>(host_order >> 24);
  address.bytes_[13] = static_cast<uint8_t>(host_order >> 16);
  address.bytes_[14] = static_cast<uint8_t>(host_order >> 8);
  address.bytes_[15] = static_cast<uint8_t>(host_order);
  return address;
}

IpAddress IpAddress::FromV6(const Bytes& bytes) {
  // A mapped address needs no conversion: IPv4 is stored in mapped form.
  IpAddress address;
  address.bytes_ = bytes;
  return address;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // Without a ':' only a dotted quad is valid; the quad parser rejects everything else,
  // embedded NUL bytes included.
  if (text.find(':') == std::string_view::npos) {
    const std::optional<uint32_t> v4 = ParseDottedQuad(text);
    if (!v4) return std::nullopt;
    return FromV4(*v4);
  }
  if (text.empty() || text.size() > kMaxTextBytes || !HasOnlyAddressCharacters(text)) {
    return std::nullopt;
  }
  char buffer[kMaxTextBytes + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';

  // glibc's inet_pton(AF_INET6) is strict already: it rejects brackets, zone ids and ports
  // (pinned by tests).
  Bytes v6;
  if (inet_pton(AF_INET6, buffer, v6.data()) != 1) return std::nullopt;
  return FromV6(v6);
}

bool IpAddress::is_v4() const {
  return std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), bytes_.begin());
}

std::string IpAddress::ToString() const {
  if (!is_v4()) return FormatV6(bytes_);
  char text[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, bytes_.data() + 12, text, sizeof(text)) == nullptr) {
    // Cannot happen: the buffer is large enough for any IPv4 address.
    return absl::StrCat(bytes_[12], ".", bytes_[13], ".", bytes_[14], ".", bytes_[15]);
  }
  return text;
}

bool IpAddress::IsLoopback() const {
  if (is_v4()) return bytes_[12] == 127;
  static constexpr Bytes kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kV6Loopback;
}

IpAddress IpAddress::Masked(int prefix_bits) const {
  // For IPv4 the first 96 bits (the mapped prefix) are always kept.
  int bits = is_v4() ? 96 + std::clamp(prefix_bits, 0, 32) : std::clamp(prefix_bits, 0, 128);
  IpAddress masked = *this;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(bits - 8 * i, 0, 8);
    masked.bytes_[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return masked;
}

std::optional<CidrBlock> CidrBlock::Parse(std::string_view text) {
  size_t slash = text.find('/');
  std::optional<IpAddress> address = IpAddress::Parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  int max_bits = address->is_v4() ? 32 : 128;
  int prefix_bits = max_bits;
  if (slash != std::string_view::npos) {
    prefix_bits = ParsePrefixBits(text.substr(slash + 1));  // a second '/' fails here
    if (prefix_bits < 0 || prefix_bits > max_bits) return std::nullopt;
  }
  return CidrBlock{address->Masked(prefix_bits), prefix_bits};
}

namespace {

// Bytes 8*word .. 8*word+7 of `bytes` as a big-endian number, so that prefix masks are shifts.
uint64_t WordAt(const IpAddress::Bytes& bytes, int word) {
  uint64_t value;
  std::memcpy(&value, bytes.data() + 8 * word, sizeof value);
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  return value;
}

// The first `bits` (0..64) bits of a word.
uint64_t PrefixMask(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - std::min(bits, 64)); }

}  // namespace

bool CidrBlock::Contains(const IpAddress& address) const {
  // On every request, for each trusted block (the peer and each forwarded hop): the prefix is
  // compared as two 64-bit words under masks, without a memcmp call or a masked copy.
  if (address.is_v4() != base.is_v4()) return false;
  const int bits = base.is_v4() ? 96 + prefix_bits : prefix_bits;
  const IpAddress::Bytes& a = address.bytes();
  const IpAddress::Bytes& b = base.bytes();
  return ((WordAt(a, 0) ^ WordAt(b, 0)) & PrefixMask(bits)) == 0 &&
         ((WordAt(a, 1) ^ WordAt(b, 1)) & PrefixMask(bits - 64)) == 0;
}

std::string CidrBlock::ToString() const { return absl::StrCat(base.ToString(), "/", prefix_bits); }

}  // namespace rendezvous::common

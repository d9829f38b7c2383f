// z-base-32, the human-oriented base-32 encoding pkarr uses to write an ed25519 public key as
// 52 characters (a URL path segment, a DNS label).
//
// Alphabet "ybndrfg8ejkmcpqxot1uwisza345h769", most significant bit first, no padding
// characters: n bytes become ceil(8n/5) characters and the unused low bits of the last character
// are zero. Decoding is strict: only the lowercase alphabet, only canonical lengths, and the
// unused bits must be zero, so that every byte string has exactly one spelling (a public key that
// could be written two ways would name two different store keys).
//
// Thread-safety: pure functions; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rendezvous::pkarr {

// The 32 digits, in value order.
inline constexpr std::string_view kZBase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

enum class ZBase32Error : uint8_t {
  kOk = 0,
  kBadCharacter,  // a character outside the (lowercase) alphabet
  kBadLength,     // no byte string encodes to this many characters (length mod 8 is 1, 3 or 6)
  kNonZeroTrailingBits,  // the last character's unused low bits are not all zero
};

// The z-base-32 spelling of `bytes` (any bytes, any length; empty gives "").
std::string EncodeZBase32(std::string_view bytes);

// Decodes `text` into `out` (replacing its contents). On an error `out` is unspecified.
[[nodiscard]] ZBase32Error DecodeZBase32(std::string_view text, std::string* out);

}  // namespace rendezvous::pkarr

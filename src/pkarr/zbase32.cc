// z-base-32 encoding and strict decoding. See zbase32.h.
#include "pkarr/zbase32.h"

#include <array>

namespace rendezvous::pkarr {
namespace {

constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (size_t i = 0; i < kZBase32Alphabet.size(); ++i) {
    table[static_cast<uint8_t>(kZBase32Alphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kDecodeTable = MakeDecodeTable();

}  // namespace

std::string EncodeZBase32(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;  // holds at most 12 pending bits
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kZBase32Alphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kZBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

ZBase32Error DecodeZBase32(std::string_view text, std::string* out) {
  // A canonical encoding has fewer than 5 unused bits: one more character would carry none.
  const size_t total_bits = text.size() * 5;
  if (total_bits % 8 >= 5) return ZBase32Error::kBadLength;
  out->clear();
  out->reserve(total_bits / 8);
  uint32_t buffer = 0;  // holds at most 12 pending bits
  int bits = 0;
  for (const char c : text) {
    const uint8_t value = kDecodeTable[static_cast<uint8_t>(c)];
    if (value == kInvalid) return ZBase32Error::kBadCharacter;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  if (buffer != 0) return ZBase32Error::kNonZeroTrailingBits;
  return ZBase32Error::kOk;
}

}  // namespace rendezvous::pkarr

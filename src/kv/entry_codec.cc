// The on-disk record layout. See entry_codec.h for the byte map.
#include "kv/entry_codec.h"

#include <cstring>
#include <limits>

namespace rendezvous::kv {
namespace {

constexpr size_t kFormatOffset = 0;
constexpr size_t kFlagsOffset = 1;
constexpr size_t kVersionOffset = 2;
constexpr size_t kExpiresOffset = 10;
constexpr size_t kOwnerOffset = 18;
constexpr size_t kCreatorOffset = kOwnerOffset + secret::kDigestBytes;
static_assert(kCreatorOffset + 16 == kEntryHeaderBytes);

constexpr uint8_t kFlagOwned = 0x01;
constexpr uint8_t kKnownFlags = kFlagOwned;

}  // namespace

void EncodeUint32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t DecodeUint32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return value;
}

void EncodeUint64(uint64_t value, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint64_t DecodeUint64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  return value;
}

int64_t TimeToUnixNanos(absl::Time time) {
  if (time == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  if (time == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  return absl::ToUnixNanos(time);  // saturates outside the year range 1678..2262
}

absl::Time TimeFromUnixNanos(int64_t nanos) {
  if (nanos == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  if (nanos == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  return absl::FromUnixNanos(nanos);
}

void EncodeEntryHeader(const EntryHeader& header, char* out) {
  out[kFormatOffset] = static_cast<char>(kRecordFormat);
  out[kFlagsOffset] = static_cast<char>(header.owned ? kFlagOwned : 0);
  EncodeUint64(header.version, out + kVersionOffset);
  EncodeUint64(static_cast<uint64_t>(TimeToUnixNanos(header.expires_at)), out + kExpiresOffset);
  if (header.owned) {
    std::memcpy(out + kOwnerOffset, header.owner.data(), secret::kDigestBytes);
  } else {
    std::memset(out + kOwnerOffset, 0, secret::kDigestBytes);
  }
  std::memcpy(out + kCreatorOffset, header.creator.data(), header.creator.size());
}

bool DecodeEntry(std::string_view record, EntryHeader* header, std::string_view* value) {
  if (record.size() < kEntryHeaderBytes) return false;
  const char* in = record.data();
  if (static_cast<uint8_t>(in[kFormatOffset]) != kRecordFormat) return false;
  const auto flags = static_cast<uint8_t>(in[kFlagsOffset]);
  if ((flags & ~kKnownFlags) != 0) return false;
  header->owned = (flags & kFlagOwned) != 0;
  header->version = DecodeUint64(in + kVersionOffset);
  if (header->version == 0) return false;  // versions start at 1
  header->expires_at =
      TimeFromUnixNanos(static_cast<int64_t>(DecodeUint64(in + kExpiresOffset)));
  std::memcpy(header->owner.data(), in + kOwnerOffset, secret::kDigestBytes);
  std::memcpy(header->creator.data(), in + kCreatorOffset, header->creator.size());
  *value = record.substr(kEntryHeaderBytes);
  return true;
}

}  // namespace rendezvous::kv

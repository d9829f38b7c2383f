// Signed records: key decoding, body parsing, BEP44 signable message, ordering. See record.h.
#include "pkarr/record.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "pkarr/zbase32.h"

namespace rendezvous::pkarr {
namespace {

uint64_t ReadBigEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < kTimestampBytes; ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

}  // namespace

KeyError DecodePublicKey(std::string_view z32, PublicKey* key) {
  if (z32.size() != kPublicKeyChars) return KeyError::kWrongLength;
  std::string bytes;
  switch (DecodeZBase32(z32, &bytes)) {
    case ZBase32Error::kOk:
      break;
    case ZBase32Error::kBadCharacter:
      return KeyError::kBadCharacter;
    case ZBase32Error::kNonZeroTrailingBits:
      return KeyError::kNonZeroTrailingBits;
    case ZBase32Error::kBadLength:  // 52 characters is a canonical length
      return KeyError::kWrongLength;
  }
  if (bytes.size() != key->size()) return KeyError::kWrongLength;  // 52 * 5 / 8 == 32 always
  for (size_t i = 0; i < key->size(); ++i) (*key)[i] = static_cast<uint8_t>(bytes[i]);
  return KeyError::kOk;
}

std::string EncodePublicKey(const PublicKey& key) {
  return EncodeZBase32(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

Error ParseRecord(std::string_view body, Record* record) {
  if (body.size() < kHeaderBytes) return Error::kRecordTooShort;
  if (body.size() > kMaxRecordBytes) return Error::kValueTooLarge;
  record->signature = body.substr(0, kSignatureBytes);
  record->timestamp_us = ReadBigEndian64(body.substr(kSignatureBytes, kTimestampBytes));
  record->v = body.substr(kHeaderBytes);
  return Error::kOk;
}

std::string SignableMessage(uint64_t timestamp_us, std::string_view v) {
  std::string message = absl::StrCat("3:seqi", timestamp_us, "e1:v", v.size(), ":");
  message.append(v);
  return message;
}

Error VerifyRecord(const PublicKey& key, std::string_view body) {
  Record record;
  if (const Error error = ParseRecord(body, &record); error != Error::kOk) return error;
  if (!secret::VerifyEd25519(key, SignableMessage(record.timestamp_us, record.v),
                             record.signature)) {
    return Error::kInvalidSignature;
  }
  return Error::kOk;
}

std::optional<uint64_t> StoredTimestamp(std::string_view stored) {
  if (stored.size() < kHeaderBytes) return std::nullopt;
  return ReadBigEndian64(stored.substr(kSignatureBytes, kTimestampBytes));
}

absl::Time TimestampToTime(uint64_t timestamp_us) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return absl::FromUnixMicros(static_cast<int64_t>(timestamp_us > kMax ? kMax : timestamp_us));
}

bool ModifiedSince(uint64_t timestamp_us, absl::Time since) {
  const int64_t since_seconds = absl::ToUnixSeconds(since);  // rounds toward the past
  if (since_seconds < 0) return true;
  return timestamp_us / 1'000'000 > static_cast<uint64_t>(since_seconds);
}

Order CompareWithStored(std::string_view stored, std::string_view incoming) {
  const std::optional<uint64_t> incoming_timestamp = StoredTimestamp(incoming);
  if (!incoming_timestamp.has_value()) return Order::kConflict;
  const std::optional<uint64_t> stored_timestamp = StoredTimestamp(stored);
  if (!stored_timestamp.has_value()) return Order::kNewer;
  if (*incoming_timestamp > *stored_timestamp) return Order::kNewer;
  if (*incoming_timestamp < *stored_timestamp) return Order::kOlder;
  return stored == incoming ? Order::kSameIdempotent : Order::kConflict;
}

}  // namespace rendezvous::pkarr

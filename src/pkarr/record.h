// Signed records of pkarr relays: the key, the body's layout, the message its signature covers,
// and the rule that decides whether a new record may replace a stored one.
//
// A record lives under `/pk/<key>`, where <key> is an ed25519 public key in z-base-32 (52
// characters, 32 bytes). The body of a PUT, stored and served back byte for byte, is
//   signature (64 bytes) ‖ timestamp (8 bytes, big-endian, microseconds since the Unix epoch) ‖ v
// with v at most 1000 bytes (pkarr puts an encoded DNS packet there; nothing here parses it). The
// signature is ed25519 over the BEP44 bencoding `3:seqi<timestamp>e1:v<len(v)>:<v>`: the
// timestamp plays the part of BEP44's sequence number, so a relay's records are interchangeable
// with the DHT's mutable items.
//
// Nothing here knows HTTP: each Error value notes the status and body it is meant to map to, and
// http/errors.cc does the mapping. Thread-safety: pure functions; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "secret/signature.h"

namespace rendezvous::pkarr {

inline constexpr size_t kPublicKeyChars = 52;
inline constexpr size_t kSignatureBytes = secret::kEd25519SignatureBytes;  // 64
inline constexpr size_t kTimestampBytes = 8;
inline constexpr size_t kHeaderBytes = kSignatureBytes + kTimestampBytes;  // 72
inline constexpr size_t kMaxValueBytes = 1000;
inline constexpr size_t kMaxRecordBytes = kHeaderBytes + kMaxValueBytes;  // 1072

using PublicKey = secret::Ed25519PublicKey;

// Why a key or a record is refused. The proposed answers are noted per value.
enum class Error : uint8_t {
  kOk = 0,
  // 400 "Bad Request: invalid public key (expected 52 z-base-32 characters)\n"
  kInvalidPublicKey,
  // 400 "Bad Request: record shorter than 72 bytes (signature and timestamp)\n"
  kRecordTooShort,
  // 413 "Payload Too Large: v over 1000 bytes\n"
  kValueTooLarge,
  // 400 "Bad Request: invalid signature\n" (also for a key that is not a usable curve point)
  kInvalidSignature,
};

// The finer reasons a key does not decode; all of them are Error::kInvalidPublicKey to clients.
enum class KeyError : uint8_t {
  kOk = 0,
  kWrongLength,          // not exactly 52 characters
  kBadCharacter,         // a character outside the lowercase z-base-32 alphabet
  kNonZeroTrailingBits,  // 52 characters carry 260 bits; the last 4 must be zero
};

// Decodes the 52-character z-base-32 spelling of a public key into `key`. Strict (see
// zbase32.h), so a key has exactly one spelling and one store key. Whether the 32 bytes are a
// valid curve point is left to signature verification: a GET of such a key is simply a 404.
[[nodiscard]] KeyError DecodePublicKey(std::string_view z32, PublicKey* key);

// The 52-character spelling of `key`.
std::string EncodePublicKey(const PublicKey& key);

// A parsed body. The views point into the body given to ParseRecord and live as long as it.
struct Record {
  std::string_view signature;  // 64 bytes
  uint64_t timestamp_us = 0;
  std::string_view v;  // at most 1000 bytes
};

// Splits `body` into its parts. Returns kOk, kRecordTooShort (fewer than 72 bytes) or
// kValueTooLarge (more than 1072 bytes). Checks nothing else; VerifyRecord checks the signature.
[[nodiscard]] Error ParseRecord(std::string_view body, Record* record);

// The bytes the signature covers: `3:seqi<timestamp_us in decimal>e1:v<len(v) in decimal>:<v>`.
std::string SignableMessage(uint64_t timestamp_us, std::string_view v);

// Parses `body` and verifies its signature under `key`: kOk, or the first of kRecordTooShort,
// kValueTooLarge, kInvalidSignature that applies. The size checks come first so that an
// oversized or truncated body never costs a verification.
[[nodiscard]] Error VerifyRecord(const PublicKey& key, std::string_view body);

// The timestamp of a stored body, or nullopt when it is shorter than a record. (Data files
// written before signed keys existed may hold plain values under "pk/...".)
std::optional<uint64_t> StoredTimestamp(std::string_view stored);

// The record's timestamp as a time, for Last-Modified. Timestamps past the largest absl::Time
// microsecond count (year 294247) are clamped to it.
absl::Time TimestampToTime(uint64_t timestamp_us);

// If-Modified-Since: true when the record is newer than `since` at the header's one-second
// precision (an HTTP date carries whole seconds), i.e. the answer is 200, not 304.
bool ModifiedSince(uint64_t timestamp_us, absl::Time since);

// How a new, already verified record relates to the stored body under the same key.
enum class Order : uint8_t {
  kNewer,           // store it: a newer timestamp, or the stored body is not a record at all
  kSameIdempotent,  // identical bytes: a refresh (store it again; only the expiry moves)
  kConflict,        // same timestamp, different bytes: refuse (409)
  kOlder,           // older timestamp: refuse (409)
};

// The "newer timestamp" rule, to be evaluated by the store atomically with the write, on the
// stored body's bytes 64..72. `incoming` must have passed VerifyRecord; an incoming body shorter
// than a record (a caller bug) is refused as kConflict rather than stored.
Order CompareWithStored(std::string_view stored, std::string_view incoming);

}  // namespace rendezvous::pkarr

// EntryCodec: the on-disk byte layout of one LMDB record and of the store's metadata numbers.
//
// A record is stored under the key's exact bytes; its LMDB value is a fixed 66-byte header
// followed by the value bytes:
//
//   offset  size  field
//        0     1  record format, kRecordFormat (1)
//        1     1  flags: bit 0 = owned; the other bits must be 0
//        2     8  version, unsigned, little-endian (never 0)
//       10     8  expires_at as signed Unix nanoseconds, little-endian; INT64_MAX is "never",
//                 INT64_MIN "always expired" (absl's infinite times)
//       18    32  owner digest (secret::Hasher output); all zero when not owned
//       50    16  creator: the client key (IPv4 address or IPv6 prefix bytes) whose key quota the
//                 record counts against (see the "quota" database in lmdb_env.h)
//       66     n  the value bytes
//
// Fixed-width little-endian integers make the file independent of the compiler and the CPU. The
// header is not aligned (LMDB gives no alignment for values), so it is always copied byte-wise.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "secret/hasher.h"

namespace rendezvous::kv {

inline constexpr uint8_t kRecordFormat = 1;
inline constexpr size_t kEntryHeaderBytes = 66;

// The fixed part of a record.
struct EntryHeader {
  uint64_t version = 0;
  absl::Time expires_at;
  bool owned = false;
  secret::Digest owner{};  // meaningful only when owned
  std::array<uint8_t, 16> creator{};
};

// Writes `header` into out[0, kEntryHeaderBytes). `out` needs no alignment.
void EncodeEntryHeader(const EntryHeader& header, char* out);

// Splits a stored record into its header and value. Returns false (leaving the outputs
// unspecified) when the record is shorter than the header, names another record format or sets
// unknown flags: a damaged record, never served. `value` points into `record`.
[[nodiscard]] bool DecodeEntry(std::string_view record, EntryHeader* header,
                               std::string_view* value);

// absl::Time <-> Unix nanoseconds, mapping absl's infinite times to INT64_MAX / INT64_MIN so that
// "never expires" survives a round trip. Finite times are truncated to whole nanoseconds.
int64_t TimeToUnixNanos(absl::Time time);
absl::Time TimeFromUnixNanos(int64_t nanos);

// Little-endian 32-bit integers (the quota counts; 4 bytes, unaligned).
void EncodeUint32(uint32_t value, char* out);
uint32_t DecodeUint32(const char* in);

// Little-endian 64-bit integers for metadata values (8 bytes, unaligned).
void EncodeUint64(uint64_t value, char* out);
uint64_t DecodeUint64(const char* in);

}  // namespace rendezvous::kv

// Owner-secret hashing and comparison. hasher.cc, signature.cc and digest.cc include sodium.h.
//
// A store keeps only Hasher::Hash(secret), a keyed BLAKE2b digest (crypto_generichash) under a
// 32-byte key generated once per data file and kept in it: the plain secret never reaches disk or
// a log, and digests from one server's file are useless against another's. (Whoever holds the
// whole file holds the key too and can test guesses offline: weak secrets stay weak.) Digests are
// compared with sodium_memcmp (constant time) so response timing does not reveal how many bytes
// matched.
//
// Thread-safety: a Hasher is immutable after construction; share it freely.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace rendezvous::secret {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kDigestBytes = 32;
using Key = std::array<uint8_t, kKeyBytes>;
using Digest = std::array<uint8_t, kDigestBytes>;

class Hasher {
 public:
  explicit Hasher(const Key& key);
  // A hasher with a fresh random key (memory engine; a new LMDB file).
  static Hasher WithRandomKey();

  Digest Hash(std::string_view secret) const;
  const Key& key() const { return key_; }

 private:
  Key key_;
};

// Constant-time equality of two digests.
[[nodiscard]] bool Equal(const Digest& a, const Digest& b);

}  // namespace rendezvous::secret

#include "secret/digest.h"

#include <sodium.h>

namespace rendezvous::secret {

std::array<uint8_t, 32> Sha256(std::string_view data) {
  static_assert(crypto_hash_sha256_BYTES == 32);
  std::array<uint8_t, 32> digest{};
  // Idempotent and thread-safe; the hash needs no random numbers, but the library asks for it.
  if (sodium_init() < 0) return digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return digest;
}

}  // namespace rendezvous::secret

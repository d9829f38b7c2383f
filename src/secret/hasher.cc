// Keyed BLAKE2b hashing of owner secrets with libsodium. See hasher.h.
#include "secret/hasher.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace rendezvous::secret {
namespace {

static_assert(kKeyBytes >= crypto_generichash_KEYBYTES_MIN &&
              kKeyBytes <= crypto_generichash_KEYBYTES_MAX);
static_assert(kDigestBytes >= crypto_generichash_BYTES_MIN &&
              kDigestBytes <= crypto_generichash_BYTES_MAX);

// A failure here means the process cannot hash or compare secrets safely; carrying on would
// either accept every secret or reject every one, so fail loudly instead.
[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "rendezvous: libsodium: %s\n", what);
  std::abort();
}

// sodium_init() is idempotent and thread-safe (returns 1 when already initialised), so every
// constructor calls it instead of relying on main() to remember.
void EnsureSodium() {
  if (sodium_init() < 0) Die("sodium_init failed");
}

}  // namespace

Hasher::Hasher(const Key& key) : key_(key) { EnsureSodium(); }

Hasher Hasher::WithRandomKey() {
  EnsureSodium();
  Key key;
  randombytes_buf(key.data(), key.size());
  return Hasher(key);
}

Digest Hasher::Hash(std::string_view secret) const {
  // An empty string_view may carry a null data pointer; hand libsodium a valid one regardless.
  static constexpr unsigned char kEmpty = 0;
  const auto* in = secret.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(secret.data());
  Digest digest;
  if (crypto_generichash(digest.data(), digest.size(), in, secret.size(), key_.data(),
                         key_.size()) != 0) {
    Die("crypto_generichash failed");
  }
  return digest;
}

bool Equal(const Digest& a, const Digest& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace rendezvous::secret

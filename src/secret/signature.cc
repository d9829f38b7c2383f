// Ed25519 verification with libsodium. See signature.h.
#include "secret/signature.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace rendezvous::secret {
namespace {

static_assert(kEd25519PublicKeyBytes == crypto_sign_PUBLICKEYBYTES);
static_assert(kEd25519SignatureBytes == crypto_sign_BYTES);

// sodium_init() is idempotent and thread-safe; without it libsodium may pick an unsafe
// implementation, so a failure stops the process rather than verifying with it.
void EnsureSodium() {
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "rendezvous: libsodium: sodium_init failed\n");
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

}  // namespace

bool VerifyEd25519(const Ed25519PublicKey& public_key, std::string_view message,
                   std::string_view signature) {
  if (signature.size() != kEd25519SignatureBytes) return false;
  EnsureSodium();
  // An empty string_view may carry a null data pointer; hand libsodium a valid one regardless.
  static constexpr unsigned char kEmpty = 0;
  const auto* in =
      message.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(message.data());
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()), in,
                                     message.size(), public_key.data()) == 0;
}

}  // namespace rendezvous::secret

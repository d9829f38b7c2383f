// Ed25519 signature verification (libsodium), for signed keys: a record stored under a public
// key is accepted only if its signature verifies with that key.
//
// Only verification lives here: the server never holds a private key. The implementation is the
// only other file, next to hasher.cc, that includes sodium.h.
//
// Thread-safety: pure functions; call from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rendezvous::secret {

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;
using Ed25519PublicKey = std::array<uint8_t, kEd25519PublicKeyBytes>;

// True when `signature` (exactly 64 bytes) is a valid ed25519 signature of `message` under
// `public_key` (libsodium's crypto_sign_verify_detached). False for a signature of any other
// length, a public key that is not a usable curve point (libsodium rejects small-order and
// non-canonical keys), and every forged or tampered signature. `message` may be empty. Costs one
// ed25519 verification (tens of microseconds): callers on the request path run it only after the
// cheap checks and the rate limit, so an unpaid request never buys one.
[[nodiscard]] bool VerifyEd25519(const Ed25519PublicKey& public_key, std::string_view message,
                                 std::string_view signature);

}  // namespace rendezvous::secret

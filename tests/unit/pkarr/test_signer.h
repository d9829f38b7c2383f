// A record signer for tests: plays the pkarr client, so it builds the signed message and the body
// itself (with libsodium directly) instead of borrowing the code under test.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "pkarr/record.h"

namespace rendezvous::pkarr::testing {

class TestSigner {
 public:
  // A deterministic key pair from a seed of 32 copies of `seed_byte`.
  explicit TestSigner(uint8_t seed_byte) {
    EXPECT_GE(sodium_init(), 0);
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed;
    seed.fill(seed_byte);
    EXPECT_EQ(crypto_sign_seed_keypair(public_key_.data(), secret_key_.data(), seed.data()), 0);
  }

  const PublicKey& public_key() const { return public_key_; }

  std::string Sign(std::string_view message) const {
    std::string signature(crypto_sign_BYTES, '\0');
    EXPECT_EQ(crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                                   reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size(), secret_key_.data()),
              0);
    return signature;
  }

  // signature ‖ timestamp (big-endian) ‖ v, the signature over the BEP44 bencoding.
  std::string Record(uint64_t timestamp_us, std::string_view v) const {
    const std::string message = "3:seqi" + std::to_string(timestamp_us) + "e1:v" +
                                std::to_string(v.size()) + ":" + std::string(v);
    std::string body = Sign(message);
    for (int shift = 56; shift >= 0; shift -= 8) {
      body.push_back(static_cast<char>((timestamp_us >> shift) & 0xff));
    }
    body.append(v);
    return body;
  }

 private:
  PublicKey public_key_{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key_{};
};

// Bytes from lowercase hex (test vectors).
inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace rendezvous::pkarr::testing

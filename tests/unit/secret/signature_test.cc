#include "secret/signature.h"

#include <sodium.h>

#include <array>
#include <string>

#include "gtest/gtest.h"

namespace rendezvous::secret {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Ed25519PublicKey KeyFromHex(std::string_view hex) {
  const std::string bytes = FromHex(hex);
  Ed25519PublicKey key{};
  for (size_t i = 0; i < key.size() && i < bytes.size(); ++i) key[i] = bytes[i];
  return key;
}

// A key pair made with libsodium here, independent of the code under test.
struct KeyPair {
  Ed25519PublicKey public_key{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};

  explicit KeyPair(uint8_t seed_byte) {
    EXPECT_GE(sodium_init(), 0);
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed;
    seed.fill(seed_byte);
    EXPECT_EQ(crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data()), 0);
  }

  std::string Sign(std::string_view message) const {
    std::string signature(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                         reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                         secret_key.data());
    return signature;
  }
};

// BEP44 (https://www.bittorrent.org/beps/bep_0044.html), "Test vectors", test 1 (no salt).
TEST(VerifyEd25519Test, AcceptsTheBep44TestVector) {
  const Ed25519PublicKey key =
      KeyFromHex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
  const std::string signature = FromHex(
      "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
      "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01");
  EXPECT_TRUE(VerifyEd25519(key, "3:seqi1e1:v12:Hello World!", signature));
  EXPECT_FALSE(VerifyEd25519(key, "3:seqi2e1:v12:Hello World!", signature));
}

TEST(VerifyEd25519Test, AcceptsASignatureMadeByLibsodium) {
  const KeyPair pair(1);
  EXPECT_TRUE(VerifyEd25519(pair.public_key, "message", pair.Sign("message")));
}

TEST(VerifyEd25519Test, AcceptsAnEmptyMessage) {
  const KeyPair pair(1);
  EXPECT_TRUE(VerifyEd25519(pair.public_key, std::string_view(), pair.Sign("")));
  EXPECT_FALSE(VerifyEd25519(pair.public_key, std::string_view("\0", 1), pair.Sign("")));
}

TEST(VerifyEd25519Test, RejectsAFlipInAnyByteOfTheSignature) {
  const KeyPair pair(1);
  const std::string good = pair.Sign("message");
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x04;
    EXPECT_FALSE(VerifyEd25519(pair.public_key, "message", bad)) << "byte " << i;
  }
}

TEST(VerifyEd25519Test, RejectsAnotherMessageOrKey) {
  const KeyPair pair(1);
  const KeyPair other(2);
  const std::string signature = pair.Sign("message");
  EXPECT_FALSE(VerifyEd25519(pair.public_key, "messagf", signature));
  EXPECT_FALSE(VerifyEd25519(other.public_key, "message", signature));
}

TEST(VerifyEd25519Test, RejectsSignaturesOfTheWrongLength) {
  const KeyPair pair(1);
  const std::string signature = pair.Sign("message");
  EXPECT_FALSE(VerifyEd25519(pair.public_key, "message", signature.substr(0, 63)));
  EXPECT_FALSE(VerifyEd25519(pair.public_key, "message", signature + "x"));
  EXPECT_FALSE(VerifyEd25519(pair.public_key, "message", ""));
}

TEST(VerifyEd25519Test, RejectsASmallOrderPublicKey) {
  // The all-zero key is a small-order point; a signature "under" it must never verify.
  EXPECT_FALSE(VerifyEd25519(Ed25519PublicKey{}, "message", std::string(64, '\0')));
}

}  // namespace
}  // namespace rendezvous::secret

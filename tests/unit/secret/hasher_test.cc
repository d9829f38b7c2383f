#include "secret/hasher.h"

#include <string>

#include "gtest/gtest.h"

namespace rendezvous::secret {
namespace {

Key KeyFilledWith(uint8_t byte) {
  Key key;
  key.fill(byte);
  return key;
}

TEST(HasherTest, SameSecretAndKeyGiveTheSameDigest) {
  const Hasher a(KeyFilledWith(1));
  const Hasher b(KeyFilledWith(1));
  EXPECT_EQ(a.Hash("s3cret"), b.Hash("s3cret"));
  EXPECT_TRUE(Equal(a.Hash("s3cret"), b.Hash("s3cret")));
}

TEST(HasherTest, DifferentKeysGiveDifferentDigestsForTheSameSecret) {
  const Hasher a(KeyFilledWith(1));
  const Hasher b(KeyFilledWith(2));
  EXPECT_FALSE(Equal(a.Hash("s3cret"), b.Hash("s3cret")));
}

TEST(HasherTest, DifferentSecretsGiveDifferentDigests) {
  const Hasher hasher(KeyFilledWith(7));
  EXPECT_FALSE(Equal(hasher.Hash("s3cret"), hasher.Hash("s3cret ")));
  EXPECT_FALSE(Equal(hasher.Hash("a"), hasher.Hash("b")));
}

TEST(HasherTest, DigestIsNotTheSecretItself) {
  const Hasher hasher(KeyFilledWith(7));
  const std::string secret(kDigestBytes, 'x');
  const Digest digest = hasher.Hash(secret);
  EXPECT_NE(std::string(digest.begin(), digest.end()), secret);
}

TEST(HasherTest, EmptySecretHashesDeterministically) {
  const Hasher hasher(KeyFilledWith(3));
  const Digest empty = hasher.Hash("");
  EXPECT_TRUE(Equal(empty, hasher.Hash(std::string_view())));
  EXPECT_FALSE(Equal(empty, hasher.Hash(std::string_view("\0", 1))));
}

TEST(HasherTest, SecretsWithNulAndHighBytesAreHashedWhole) {
  const Hasher hasher(KeyFilledWith(3));
  EXPECT_FALSE(Equal(hasher.Hash(std::string_view("a\0b", 3)), hasher.Hash("a")));
  EXPECT_FALSE(Equal(hasher.Hash("\xff\xfe"), hasher.Hash("\xff")));
}

TEST(HasherTest, EqualDetectsADifferenceInAnyByte) {
  Digest a{};
  EXPECT_TRUE(Equal(a, a));
  for (size_t i = 0; i < kDigestBytes; ++i) {
    Digest b = a;
    b[i] ^= 0x80;
    EXPECT_FALSE(Equal(a, b)) << "byte " << i;
  }
}

TEST(HasherTest, KeyAccessorReturnsTheConstructionKey) {
  const Key key = KeyFilledWith(9);
  EXPECT_EQ(Hasher(key).key(), key);
}

TEST(HasherTest, RandomKeysDifferBetweenHashers) {
  const Hasher a = Hasher::WithRandomKey();
  const Hasher b = Hasher::WithRandomKey();
  EXPECT_NE(a.key(), b.key());
  EXPECT_FALSE(Equal(a.Hash("s3cret"), b.Hash("s3cret")));
}

TEST(HasherTest, RandomKeyHasherIsDeterministicForItsOwnKey) {
  const Hasher a = Hasher::WithRandomKey();
  EXPECT_TRUE(Equal(a.Hash("s3cret"), a.Hash("s3cret")));
  EXPECT_TRUE(Equal(a.Hash("s3cret"), Hasher(a.key()).Hash("s3cret")));
}

}  // namespace
}  // namespace rendezvous::secret

#include "pkarr/zbase32.h"

#include <string>

#include "gtest/gtest.h"

namespace rendezvous::pkarr {
namespace {

std::string Decoded(std::string_view text) {
  std::string out;
  EXPECT_EQ(DecodeZBase32(text, &out), ZBase32Error::kOk) << text;
  return out;
}

// Published vectors: TBD54566975/web5-kt, common/src/test/kotlin/web5/sdk/common/ZBase32Test.kt.
TEST(ZBase32Test, MatchesPublishedVectors) {
  struct Vector {
    std::string_view encoded;
    std::string_view decoded;
  };
  const Vector vectors[] = {
      {"pb1sa5dx", "hello"},
      {"pb1sa5dxrb5s6huccooo", "hello world!"},
      {"ktwgkedtqiwsg43ycj3g675qrbug66bypj4s4hdurbzzc3m1rb4go3jyptozw6jyctzsqmo",
       "The quick brown fox jumps over the lazy dog."},
  };
  for (const Vector& vector : vectors) {
    EXPECT_EQ(EncodeZBase32(vector.decoded), vector.encoded);
    EXPECT_EQ(Decoded(vector.encoded), vector.decoded);
  }
}

// Every digit in value order: 0x00 0x44 0x32 0x14 0xc7 0x42 0x54 0xb6 0x35 0xcf 0x84 0x65 0x3a
// 0x56 0xd7 0xc6 0x75 0xbe 0x77 0xdf is 00000 00001 00010 ... 11111 in five-bit groups.
TEST(ZBase32Test, AlphabetIsInValueOrder) {
  const std::string bytes(
      "\x00\x44\x32\x14\xc7\x42\x54\xb6\x35\xcf\x84\x65\x3a\x56\xd7\xc6\x75\xbe\x77\xdf", 20);
  ASSERT_EQ(bytes.size(), 20u);
  EXPECT_EQ(EncodeZBase32(bytes), kZBase32Alphabet);
  EXPECT_EQ(Decoded(kZBase32Alphabet), bytes);
  EXPECT_EQ(kZBase32Alphabet, "ybndrfg8ejkmcpqxot1uwisza345h769");
}

TEST(ZBase32Test, PadsTheLastDigitWithZeroBits) {
  EXPECT_EQ(EncodeZBase32(""), "");
  EXPECT_EQ(EncodeZBase32(std::string(1, '\0')), "yy");
  EXPECT_EQ(EncodeZBase32("\xff"), "9h");  // 11111 111(00)
  EXPECT_EQ(EncodeZBase32("\x80"), "oy");  // 10000 000(00)
}

TEST(ZBase32Test, RoundTripsEveryLengthUpTo40Bytes) {
  std::string bytes;
  for (int length = 0; length <= 40; ++length) {
    const std::string encoded = EncodeZBase32(bytes);
    EXPECT_EQ(encoded.size(), (bytes.size() * 8 + 4) / 5);
    EXPECT_EQ(Decoded(encoded), bytes) << "length " << length;
    bytes.push_back(static_cast<char>(length * 37 + 11));
  }
}

TEST(ZBase32Test, RejectsCharactersOutsideTheAlphabet) {
  std::string out;
  // z-base-32 leaves out 0, l, v and 2; it is lowercase only.
  for (std::string_view text : {"0y", "ly", "vy", "2y", "Yy", "PB1SA5DX", "y=", "y ", "y\xff"}) {
    EXPECT_EQ(DecodeZBase32(text, &out), ZBase32Error::kBadCharacter) << text;
  }
  EXPECT_EQ(DecodeZBase32(std::string_view("y\0", 2), &out), ZBase32Error::kBadCharacter);
}

TEST(ZBase32Test, RejectsLengthsNoByteStringEncodesTo) {
  std::string out;
  for (std::string_view text : {"y", "yyy", "yyyyyy", "yyyyyyyyy"}) {
    EXPECT_EQ(DecodeZBase32(text, &out), ZBase32Error::kBadLength) << text;
  }
}

TEST(ZBase32Test, RejectsNonZeroUnusedBits) {
  std::string out;
  EXPECT_EQ(DecodeZBase32("yb", &out), ZBase32Error::kNonZeroTrailingBits);  // 00000 000(01)
  EXPECT_EQ(DecodeZBase32("9h", &out), ZBase32Error::kOk);
  EXPECT_EQ(DecodeZBase32("97", &out), ZBase32Error::kNonZeroTrailingBits);  // 11111 111(01)
}

}  // namespace
}  // namespace rendezvous::pkarr

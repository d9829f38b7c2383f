#include "pkarr/record.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "test_signer.h"

namespace rendezvous::pkarr {
namespace {

using testing::FromHex;
using testing::TestSigner;

// pubky/pkarr, pkarr/src/base/keys.rs, tests `from_string` and `to_uri`: a z-base-32 key and its
// 32 bytes.
constexpr std::string_view kPkarrKeyZ32 = "yg4gxe7z1r7mr6orids9fh95y7gxhdsxjqi6nngsxxtakqaxr5no";
constexpr PublicKey kPkarrKeyBytes = {1,   180, 103, 163, 183, 145, 58,  178, 122, 4,  168,
                                      237, 242, 243, 251, 7,   76,  254, 14,  207, 75, 171,
                                      225, 8,   214, 123, 227, 133, 59,  15,  38,  197};

// BEP44 (https://www.bittorrent.org/beps/bep_0044.html), "Test vectors", test 1: mutable item,
// no salt, seq 1, value "Hello World!".
constexpr std::string_view kBep44PublicKeyHex =
    "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548";
constexpr std::string_view kBep44SignatureHex =
    "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
    "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01";

PublicKey Bep44Key() {
  const std::string bytes = FromHex(kBep44PublicKeyHex);
  PublicKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(bytes[i]);
  return key;
}

// The BEP44 item as a relay body: signature ‖ seq as 8 big-endian bytes ‖ v.
std::string Bep44Body() {
  return FromHex(kBep44SignatureHex) + std::string("\0\0\0\0\0\0\0\x01", 8) + "Hello World!";
}

TEST(PublicKeyTest, DecodesThePkarrTestVector) {
  PublicKey key{};
  ASSERT_EQ(DecodePublicKey(kPkarrKeyZ32, &key), KeyError::kOk);
  EXPECT_EQ(key, kPkarrKeyBytes);
  EXPECT_EQ(EncodePublicKey(kPkarrKeyBytes), kPkarrKeyZ32);
}

TEST(PublicKeyTest, RoundTripsALibsodiumKey) {
  const TestSigner signer(7);
  const std::string z32 = EncodePublicKey(signer.public_key());
  EXPECT_EQ(z32.size(), kPublicKeyChars);
  PublicKey key{};
  ASSERT_EQ(DecodePublicKey(z32, &key), KeyError::kOk);
  EXPECT_EQ(key, signer.public_key());
}

TEST(PublicKeyTest, RejectsAnyLengthButFiftyTwo) {
  PublicKey key{};
  const std::string z32(kPkarrKeyZ32);
  EXPECT_EQ(DecodePublicKey("", &key), KeyError::kWrongLength);
  EXPECT_EQ(DecodePublicKey(z32.substr(0, 51), &key), KeyError::kWrongLength);
  EXPECT_EQ(DecodePublicKey(z32 + "y", &key), KeyError::kWrongLength);
  // 56 characters decode cleanly to 35 bytes: still not a key.
  EXPECT_EQ(DecodePublicKey(z32 + "yyyy", &key), KeyError::kWrongLength);
}

TEST(PublicKeyTest, RejectsCharactersOutsideTheAlphabet) {
  PublicKey key{};
  for (const char bad : {'0', 'l', 'v', '2', 'Y', '-', '%', '/'}) {
    std::string z32(kPkarrKeyZ32);
    z32[10] = bad;
    EXPECT_EQ(DecodePublicKey(z32, &key), KeyError::kBadCharacter) << bad;
  }
  std::string upper(kPkarrKeyZ32);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(DecodePublicKey(upper, &key), KeyError::kBadCharacter);
}

TEST(PublicKeyTest, RejectsNonZeroTrailingBits) {
  // The last character carries one bit of the key and four zero bits: only 'y' (00000) and 'o'
  // (10000) may end a key.
  PublicKey key{};
  std::string z32(kPkarrKeyZ32);
  ASSERT_EQ(z32.back(), 'o');
  for (const char last : {'b', 'n', 'x', '9'}) {
    z32.back() = last;
    EXPECT_EQ(DecodePublicKey(z32, &key), KeyError::kNonZeroTrailingBits) << last;
  }
  z32.back() = 'y';
  EXPECT_EQ(DecodePublicKey(z32, &key), KeyError::kOk);
}

TEST(SignableMessageTest, MatchesTheBep44Example) {
  EXPECT_EQ(SignableMessage(1, "Hello World!"), "3:seqi1e1:v12:Hello World!");
}

TEST(SignableMessageTest, WritesTimestampAndLengthInDecimal) {
  EXPECT_EQ(SignableMessage(0, ""), "3:seqi0e1:v0:");
  EXPECT_EQ(SignableMessage(1741107004412159, std::string_view("a\0b", 3)),
            std::string("3:seqi1741107004412159e1:v3:a\0b", 31));
  EXPECT_EQ(SignableMessage(std::numeric_limits<uint64_t>::max(), "x"),
            "3:seqi18446744073709551615e1:v1:x");
}

TEST(VerifyRecordTest, AcceptsTheBep44TestVector) {
  EXPECT_EQ(VerifyRecord(Bep44Key(), Bep44Body()), Error::kOk);
}

TEST(VerifyRecordTest, RejectsTheBep44VectorUnderAnotherSeq) {
  std::string body = Bep44Body();
  body[kSignatureBytes + 7] = 2;
  EXPECT_EQ(VerifyRecord(Bep44Key(), body), Error::kInvalidSignature);
}

TEST(VerifyRecordTest, AcceptsARecordSignedByLibsodium) {
  const TestSigner signer(1);
  EXPECT_EQ(VerifyRecord(signer.public_key(), signer.Record(1700000000123456, "dns packet")),
            Error::kOk);
}

TEST(VerifyRecordTest, AcceptsAnEmptyValue) {
  const TestSigner signer(1);
  const std::string body = signer.Record(5, "");
  ASSERT_EQ(body.size(), kHeaderBytes);
  EXPECT_EQ(VerifyRecord(signer.public_key(), body), Error::kOk);
}

TEST(VerifyRecordTest, RejectsATamperedSignature) {
  const TestSigner signer(1);
  for (const size_t at : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    std::string body = signer.Record(1700000000123456, "dns packet");
    body[at] ^= 0x01;
    EXPECT_EQ(VerifyRecord(signer.public_key(), body), Error::kInvalidSignature) << at;
  }
}

TEST(VerifyRecordTest, RejectsATamperedValue) {
  const TestSigner signer(1);
  std::string body = signer.Record(1700000000123456, "dns packet");
  body.back() ^= 0x20;
  EXPECT_EQ(VerifyRecord(signer.public_key(), body), Error::kInvalidSignature);
  body = signer.Record(1700000000123456, "dns packet");
  body.push_back('!');
  EXPECT_EQ(VerifyRecord(signer.public_key(), body), Error::kInvalidSignature);
}

TEST(VerifyRecordTest, RejectsATamperedTimestamp) {
  const TestSigner signer(1);
  for (size_t at = kSignatureBytes; at < kHeaderBytes; ++at) {
    std::string body = signer.Record(1700000000123456, "dns packet");
    body[at] ^= 0x01;
    EXPECT_EQ(VerifyRecord(signer.public_key(), body), Error::kInvalidSignature) << at;
  }
}

TEST(VerifyRecordTest, RejectsARecordSignedByAnotherKey) {
  const TestSigner signer(1);
  const TestSigner other(2);
  EXPECT_EQ(VerifyRecord(other.public_key(), signer.Record(1, "v")), Error::kInvalidSignature);
}

TEST(VerifyRecordTest, RejectsAKeyThatIsNotACurvePoint) {
  // All zeros is a small-order point: libsodium refuses to verify under it.
  const TestSigner signer(1);
  EXPECT_EQ(VerifyRecord(PublicKey{}, signer.Record(1, "v")), Error::kInvalidSignature);
}

TEST(VerifyRecordTest, AcceptsAValueOf1000BytesAndRejects1001) {
  const TestSigner signer(3);
  const std::string largest = signer.Record(9, std::string(1000, 'v'));
  ASSERT_EQ(largest.size(), kMaxRecordBytes);
  EXPECT_EQ(VerifyRecord(signer.public_key(), largest), Error::kOk);
  // Correctly signed, still refused: the limit is on v, whatever the signature says.
  EXPECT_EQ(VerifyRecord(signer.public_key(), signer.Record(9, std::string(1001, 'v'))),
            Error::kValueTooLarge);
}

TEST(VerifyRecordTest, RejectsABodyOf71Bytes) {
  const TestSigner signer(3);
  const std::string body = signer.Record(9, "");
  EXPECT_EQ(VerifyRecord(signer.public_key(), body.substr(0, 71)), Error::kRecordTooShort);
  EXPECT_EQ(VerifyRecord(signer.public_key(), ""), Error::kRecordTooShort);
}

TEST(VerifyRecordTest, ChecksSizesBeforeTheSignature) {
  const TestSigner signer(3);
  EXPECT_EQ(VerifyRecord(signer.public_key(), std::string(71, 'x')), Error::kRecordTooShort);
  EXPECT_EQ(VerifyRecord(signer.public_key(), std::string(1073, 'x')), Error::kValueTooLarge);
  EXPECT_EQ(VerifyRecord(signer.public_key(), std::string(72, 'x')), Error::kInvalidSignature);
}

TEST(ParseRecordTest, SplitsSignatureTimestampAndValue) {
  const TestSigner signer(4);
  const std::string body = signer.Record(0x0102030405060708, "payload");
  Record record;
  ASSERT_EQ(ParseRecord(body, &record), Error::kOk);
  EXPECT_EQ(record.signature, std::string_view(body).substr(0, 64));
  EXPECT_EQ(record.timestamp_us, 0x0102030405060708u);
  EXPECT_EQ(record.v, "payload");
}

TEST(ParseRecordTest, ReadsTheTimestampAsUnsignedBigEndian) {
  std::string body(kHeaderBytes, '\xff');
  Record record;
  ASSERT_EQ(ParseRecord(body, &record), Error::kOk);
  EXPECT_EQ(record.timestamp_us, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(record.v.empty());
}

TEST(CompareWithStoredTest, NewerTimestampReplaces) {
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored(signer.Record(100, "old"), signer.Record(101, "new")), Order::kNewer);
  // Only the timestamp counts, not the value or its length.
  EXPECT_EQ(CompareWithStored(signer.Record(100, "zzzz"), signer.Record(101, "")), Order::kNewer);
}

TEST(CompareWithStoredTest, OlderTimestampIsRefused) {
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored(signer.Record(101, "new"), signer.Record(100, "old")), Order::kOlder);
}

TEST(CompareWithStoredTest, SameBytesAreAnIdempotentRefresh) {
  const TestSigner signer(5);
  const std::string body = signer.Record(100, "same");
  EXPECT_EQ(CompareWithStored(body, body), Order::kSameIdempotent);
}

TEST(CompareWithStoredTest, SameTimestampWithOtherBytesIsAConflict) {
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored(signer.Record(100, "one"), signer.Record(100, "two")),
            Order::kConflict);
  // Same timestamp and value, another signature (here: another key's): still other bytes.
  const TestSigner other(6);
  EXPECT_EQ(CompareWithStored(other.Record(100, "one"), signer.Record(100, "one")),
            Order::kConflict);
}

TEST(CompareWithStoredTest, ComparesTimestampsAsUnsigned) {
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored(signer.Record(0x7fffffffffffffff, "a"),
                              signer.Record(0x8000000000000000, "b")),
            Order::kNewer);
}

TEST(CompareWithStoredTest, AStoredValueShorterThanARecordIsReplaced) {
  // Plain values could be written under "pk/..." before signed keys existed.
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored("legacy plain value", signer.Record(1, "v")), Order::kNewer);
  EXPECT_EQ(CompareWithStored("", signer.Record(1, "v")), Order::kNewer);
}

TEST(CompareWithStoredTest, AnIncomingBodyShorterThanARecordIsNeverStored) {
  const TestSigner signer(5);
  EXPECT_EQ(CompareWithStored(signer.Record(1, "v"), "short"), Order::kConflict);
  EXPECT_EQ(CompareWithStored("", ""), Order::kConflict);
}

TEST(StoredTimestampTest, ReadsBytes64To72) {
  const TestSigner signer(5);
  EXPECT_EQ(StoredTimestamp(signer.Record(42, "v")), 42u);
  EXPECT_EQ(StoredTimestamp(std::string(71, 'x')), std::nullopt);
}

TEST(TimestampTest, ConvertsMicrosecondsToTime) {
  EXPECT_EQ(TimestampToTime(1729257861000001),
            absl::FromUnixSeconds(1729257861) + absl::Microseconds(1));
  EXPECT_EQ(TimestampToTime(std::numeric_limits<uint64_t>::max()),
            absl::FromUnixMicros(std::numeric_limits<int64_t>::max()));
}

TEST(TimestampTest, ModifiedSinceComparesWholeSeconds) {
  // "Fri, 18 Oct 2024 13:24:21 GMT" is 1729257861.
  const absl::Time since = absl::FromUnixSeconds(1729257861);
  EXPECT_FALSE(ModifiedSince(1729257860'999999, since));
  EXPECT_FALSE(ModifiedSince(1729257861'000000, since));
  // Later within the same second: the header cannot tell, so not modified (304).
  EXPECT_FALSE(ModifiedSince(1729257861'999999, since));
  EXPECT_TRUE(ModifiedSince(1729257862'000000, since));
  EXPECT_TRUE(ModifiedSince(0, absl::FromUnixSeconds(-1)));
  EXPECT_FALSE(ModifiedSince(0, absl::UnixEpoch()));
}

}  // namespace
}  // namespace rendezvous::pkarr

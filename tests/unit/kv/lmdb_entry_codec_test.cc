// The on-disk record layout (entry_codec.h): it round-trips, it is pinned byte for byte (files
// written today must read tomorrow), and damaged records are recognised.
#include "kv/entry_codec.h"

#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace rendezvous::kv {
namespace {

std::string Record(const EntryHeader& header, std::string_view value) {
  std::string record(kEntryHeaderBytes, '\0');
  EncodeEntryHeader(header, record.data());
  record.append(value);
  return record;
}

TEST(EntryCodecTest, AnOwnedRecordRoundTrips) {
  EntryHeader header;
  header.version = 0x0102030405060708;
  header.expires_at = absl::FromUnixNanos(1'700'000'000'123'456'789);
  header.owned = true;
  for (size_t i = 0; i < header.owner.size(); ++i) header.owner[i] = static_cast<uint8_t>(i + 1);
  header.creator.fill(0x7F);
  const std::string value("bytes\0with nul", 14);

  const std::string record = Record(header, value);
  EntryHeader decoded;
  std::string_view decoded_value;
  ASSERT_TRUE(DecodeEntry(record, &decoded, &decoded_value));
  EXPECT_EQ(decoded.version, header.version);
  EXPECT_EQ(decoded.expires_at, header.expires_at);
  EXPECT_TRUE(decoded.owned);
  EXPECT_EQ(decoded.owner, header.owner);
  EXPECT_EQ(decoded.creator, header.creator);
  EXPECT_EQ(decoded_value, value);
}

TEST(EntryCodecTest, AnUnownedRecordStoresNoDigestAndAnEmptyValue) {
  EntryHeader header;
  header.version = 1;
  header.expires_at = absl::FromUnixSeconds(5);
  header.owner.fill(0xAB);  // ignored when not owned
  const std::string record = Record(header, "");
  EXPECT_EQ(record.size(), kEntryHeaderBytes);
  EXPECT_EQ(record.substr(18, 32), std::string(32, '\0'));
  EntryHeader decoded;
  std::string_view value = "not empty";
  ASSERT_TRUE(DecodeEntry(record, &decoded, &value));
  EXPECT_FALSE(decoded.owned);
  EXPECT_TRUE(value.empty());
}

TEST(EntryCodecTest, TheLayoutIsLittleEndianAtFixedOffsets) {
  EntryHeader header;
  header.version = 0x0807060504030201;
  header.expires_at = absl::FromUnixNanos(0x1112131415161718);
  header.owned = true;
  header.owner.fill(0xEE);
  for (size_t i = 0; i < header.creator.size(); ++i) {
    header.creator[i] = static_cast<uint8_t>(i + 1);
  }
  const std::string record = Record(header, "v");
  EXPECT_EQ(record[0], 1);  // record format
  EXPECT_EQ(record[1], 1);  // flags: owned
  EXPECT_EQ(record.substr(2, 8), "\x01\x02\x03\x04\x05\x06\x07\x08");
  EXPECT_EQ(record.substr(10, 8), "\x18\x17\x16\x15\x14\x13\x12\x11");
  EXPECT_EQ(record.substr(18, 32), std::string(32, '\xEE'));
  EXPECT_EQ(record.substr(50, 16),
            "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F\x10");
  EXPECT_EQ(record.substr(66), "v");
}

TEST(EntryCodecTest, InfiniteTimesSurviveARoundTrip) {
  EXPECT_EQ(TimeFromUnixNanos(TimeToUnixNanos(absl::InfiniteFuture())), absl::InfiniteFuture());
  EXPECT_EQ(TimeFromUnixNanos(TimeToUnixNanos(absl::InfinitePast())), absl::InfinitePast());
  const absl::Time t = absl::FromUnixNanos(-5);
  EXPECT_EQ(TimeFromUnixNanos(TimeToUnixNanos(t)), t);
}

TEST(EntryCodecTest, DamagedRecordsAreRecognised) {
  EntryHeader header;
  header.version = 7;
  const std::string good = Record(header, "value");
  EntryHeader decoded;
  std::string_view value;
  ASSERT_TRUE(DecodeEntry(good, &decoded, &value));

  EXPECT_FALSE(DecodeEntry(good.substr(0, kEntryHeaderBytes - 1), &decoded, &value));
  EXPECT_FALSE(DecodeEntry("", &decoded, &value));
  std::string other_format = good;
  other_format[0] = 2;
  EXPECT_FALSE(DecodeEntry(other_format, &decoded, &value));
  std::string unknown_flag = good;
  unknown_flag[1] = 0x02;
  EXPECT_FALSE(DecodeEntry(unknown_flag, &decoded, &value));
  std::string version_zero = good;
  version_zero.replace(2, 8, std::string(8, '\0'));
  EXPECT_FALSE(DecodeEntry(version_zero, &decoded, &value));
}

TEST(EntryCodecTest, MetadataIntegersAreLittleEndian) {
  char bytes[8];
  EncodeUint64(0x0102030405060708, bytes);
  EXPECT_EQ(std::string(bytes, 8), "\x08\x07\x06\x05\x04\x03\x02\x01");
  EXPECT_EQ(DecodeUint64(bytes), 0x0102030405060708u);
  EncodeUint64(std::numeric_limits<uint64_t>::max(), bytes);
  EXPECT_EQ(DecodeUint64(bytes), std::numeric_limits<uint64_t>::max());
  EncodeUint32(0x01020304, bytes);
  EXPECT_EQ(std::string(bytes, 4), "\x04\x03\x02\x01");
  EXPECT_EQ(DecodeUint32(bytes), 0x01020304u);
}

}  // namespace
}  // namespace rendezvous::kv

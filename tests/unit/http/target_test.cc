// Request-target parsing and key decoding: every case of the original server about keys, as we
// answer them.
#include "http/target.h"

#include <string>

#include "gtest/gtest.h"

namespace rendezvous::http {
namespace {

// The key for `target`, or the error on the way to it.
struct KeyOrError {
  std::string key;
  std::optional<Error> error;
  bool index_page = false;
};

KeyOrError KeyFor(std::string_view target) {
  KeyOrError out;
  const ParsedTarget parsed = ParseTarget(target);
  if (parsed.error) {
    out.error = parsed.error;
    return out;
  }
  out.index_page = parsed.is_index_page();
  out.error = DecodeKey(parsed.path, out.key);
  return out;
}

std::string KeyOf(std::string_view target) {
  KeyOrError result = KeyFor(target);
  EXPECT_FALSE(result.error.has_value()) << target;
  EXPECT_FALSE(result.index_page) << target;
  return result.key;
}

std::optional<Error> ErrorOf(std::string_view target) { return KeyFor(target).error; }

TEST(TargetTest, OriginFormKeyIsThePathWithoutItsFirstSlash) {
  EXPECT_EQ(KeyOf("/k"), "k");
  EXPECT_EQ(KeyOf("/a/b/c"), "a/b/c");
}

TEST(TargetTest, QueryIsIgnored) {
  EXPECT_EQ(KeyOf("/qk?x=1"), "qk");
  EXPECT_EQ(KeyOf("/qk?"), "qk");
  EXPECT_EQ(KeyOf("/qk?y=2/z?w"), "qk");
}

TEST(TargetTest, SlashAloneIsTheIndexPageWithOrWithoutQuery) {
  EXPECT_TRUE(ParseTarget("/").is_index_page());
  EXPECT_TRUE(ParseTarget("/?x=1").is_index_page());
  EXPECT_TRUE(ParseTarget("http://host/").is_index_page());
  EXPECT_TRUE(ParseTarget("http://host/?q").is_index_page());
  EXPECT_FALSE(ParseTarget("//").is_index_page());
  EXPECT_FALSE(ParseTarget("/%2F").is_index_page());
}

TEST(TargetTest, PercentTwoFIsASlashButNotTheIndexPage) {
  EXPECT_EQ(KeyOf("/a%2Fb"), "a/b");
  EXPECT_EQ(KeyOf("/a%2fb"), "a/b");
  EXPECT_EQ(KeyOf("/ip%2Fsvc"), "ip/svc");
  EXPECT_EQ(KeyOf("/%2F"), "/");
}

TEST(TargetTest, SpaceMustBeEncodedAndPlusStaysPlus) {
  EXPECT_EQ(KeyOf("/a%20b"), "a b");
  EXPECT_EQ(KeyOf("/a+b"), "a+b");
  EXPECT_EQ(KeyOf("/a%2Bb"), "a+b");
}

TEST(TargetTest, EscapedHashAndQuestionMarkArePartOfTheKey) {
  EXPECT_EQ(KeyOf("/h%23x"), "h#x");
  EXPECT_EQ(KeyOf("/h%3Fx?real=query"), "h?x");
  EXPECT_EQ(KeyOf("/h#x"), "h#x");  // a raw '#' is not a fragment in a request-target
}

TEST(TargetTest, NoPathCleaning) {
  EXPECT_EQ(KeyOf("//dk"), "/dk");
  EXPECT_EQ(KeyOf("//"), "/");
  EXPECT_EQ(KeyOf("/x/../y"), "x/../y");
  EXPECT_EQ(KeyOf("/./y"), "./y");
  EXPECT_EQ(KeyOf("/ts/"), "ts/");
}

TEST(TargetTest, EscapedAndRawUtf8GiveTheSameKey) {
  EXPECT_EQ(KeyOf("/%D0%BA%D0%BB%D1%8E%D1%87"), "ключ");
  EXPECT_EQ(KeyOf("/ключ"), "ключ");
  EXPECT_EQ(KeyOf("/%d0%ba%d0%bb%d1%8e%d1%87"), "ключ");
}

TEST(TargetTest, ControlBytesAndNulAreAllowedInKeys) {
  EXPECT_EQ(KeyOf("/%00"), std::string(1, '\0'));
  EXPECT_EQ(KeyOf("/a%0D%0Ab%FF"), "a\r\nb\xff");
}

TEST(TargetTest, KeyLengthIsTheDecodedLength) {
  EXPECT_EQ(KeyOf("/%20" + std::string(98, 'c')).size(), 99u);
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "%C3%A9";
  EXPECT_EQ(KeyOf("/" + fifty).size(), 100u);
  EXPECT_EQ(KeyOf("/" + fifty + "%C3%A9").size(), 102u);
}

TEST(TargetTest, InvalidPercentEscapesAreRejected) {
  for (std::string_view target : {"/bad%zz", "/%", "/%4", "/a%", "/%4g", "/%g4", "/%%41", "/%-1",
                                  "/% 1", "/%+1", "/ok%41%", "/%0x1"}) {
    EXPECT_EQ(ErrorOf(target), Error::kBadPercentEncoding) << target;
  }
}

TEST(TargetTest, EveryTwoByteEscapeDecodesExactlyWhenBothAreHexDigits) {
  auto hex = [](int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  std::string key;
  for (int high = 0; high < 256; ++high) {
    for (int low = 0; low < 256; ++low) {
      std::string path = "/x%";
      path.push_back(static_cast<char>(high));
      path.push_back(static_cast<char>(low));
      const std::optional<Error> error = DecodeKey(path, key);
      if (hex(high) && hex(low)) {
        ASSERT_FALSE(error) << path;
        ASSERT_EQ(key.size(), 2u);
        EXPECT_EQ(static_cast<uint8_t>(key[1]), std::stoi(path.substr(3), nullptr, 16));
      } else {
        EXPECT_EQ(error, Error::kBadPercentEncoding) << high << " " << low;
      }
    }
  }
}

TEST(TargetTest, AbsoluteFormIgnoresTheHost) {
  EXPECT_EQ(KeyOf("http://otherhost/ak"), "ak");
  EXPECT_EQ(KeyOf("http://otherhost:8080/a/b?q=1"), "a/b");
  EXPECT_EQ(KeyOf("HTTP://Host/ak"), "ak");
  EXPECT_EQ(KeyOf("https://h/ak"), "ak");
  EXPECT_EQ(KeyOf("http:///ak"), "ak");
  EXPECT_EQ(KeyOf("http://[::1]:80//dk"), "/dk");
}

TEST(TargetTest, AbsoluteFormWithoutPathNeedsAKey) {
  EXPECT_EQ(ErrorOf("http://x"), Error::kKeyRequired);
  EXPECT_EQ(ErrorOf("http://x:80"), Error::kKeyRequired);
  EXPECT_EQ(ErrorOf("http://x?q=/k"), Error::kKeyRequired);
}

TEST(TargetTest, AsteriskAndAuthorityFormsAreUnsupported) {  // no key "*"
  EXPECT_EQ(ErrorOf("*"), Error::kBadTarget);
  EXPECT_EQ(ErrorOf("host:443"), Error::kBadTarget);
  EXPECT_EQ(ErrorOf("[::1]:443"), Error::kBadTarget);
}

TEST(TargetTest, TargetWithoutLeadingSlashIsABadRequest) {
  EXPECT_EQ(ErrorOf("ak"), Error::kBadRequest);
  EXPECT_EQ(ErrorOf(""), Error::kBadRequest);
  EXPECT_EQ(ErrorOf("ak/b"), Error::kBadRequest);
  EXPECT_EQ(ErrorOf("ftp://x/k"), Error::kBadRequest);
  EXPECT_EQ(ErrorOf("**"), Error::kBadRequest);
}

TEST(TargetTest, DecodingReusesTheBufferWithoutAllocating) {
  std::string key;
  key.reserve(256);
  const char* data = key.data();
  ASSERT_FALSE(DecodeKey("/" + std::string(200, 'a'), key));
  ASSERT_FALSE(DecodeKey("/short%20key", key));
  EXPECT_EQ(key, "short key");
  EXPECT_EQ(key.data(), data);
  EXPECT_EQ(key.capacity(), 256u);
}

TEST(TargetTest, DecodingReplacesTheBufferContents) {
  std::string key = "leftover";
  ASSERT_FALSE(DecodeKey("/k", key));
  EXPECT_EQ(key, "k");
  ASSERT_FALSE(DecodeKey("/", key));
  EXPECT_EQ(key, "");
}

}  // namespace
}  // namespace rendezvous::http

// Entity tags and the If-Match / If-None-Match grammar (see etag.h).
#include "http/etag.h"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>

namespace rendezvous::http {
namespace {

constexpr size_t kMaxHexDigits = 16;  // a uint64_t

std::string_view TrimOws(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 section 8.8.3): visible bytes but '"', and bytes
// 0x80-0xFF.
bool IsETagChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte == 0x21 || (byte >= 0x23 && byte != 0x7F);
}

struct Tag {
  std::string_view opaque;  // between the quotes
  bool weak = false;
};

// Calls `visit(Tag)` for each entity-tag of the list `list`, in order; returns false (possibly
// after visiting some) when the list is malformed. "*" is not a tag.
template <typename Visit>
bool ForEachTag(std::string_view list, Visit&& visit) {
  size_t i = 0;
  const size_t n = list.size();
  const auto skip_ows = [&] {
    while (i < n && (list[i] == ' ' || list[i] == '\t')) ++i;
  };
  while (true) {
    skip_ows();
    if (i == n) return true;
    if (list[i] == ',') {  // an empty element
      ++i;
      continue;
    }
    Tag tag;
    if (list.substr(i, 2) == "W/") {
      tag.weak = true;
      i += 2;
    }
    if (i == n || list[i] != '"') return false;
    const size_t start = ++i;
    while (i < n && list[i] != '"') {
      if (!IsETagChar(list[i])) return false;
      ++i;
    }
    if (i == n) return false;  // no closing quote
    tag.opaque = list.substr(start, i - start);
    ++i;
    visit(tag);
    skip_ows();
    if (i == n) return true;
    if (list[i] != ',') return false;  // bytes after a tag
    ++i;
  }
}

// The version an opaque-tag names if it has our exact form (lower-case hex, no leading zero,
// at most 16 digits), else 0 (which no live entry has). Exact, because tags compare as strings:
// "0a" and "A" are not the tag "a".
uint64_t VersionOf(std::string_view opaque) {
  if (opaque.empty() || opaque.size() > kMaxHexDigits || opaque.front() == '0') return 0;
  uint64_t version = 0;
  for (char c : opaque) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return 0;
    }
    version = version * 16 + static_cast<uint64_t>(digit);
  }
  return version;
}

// "00" to "ff": the ETag's hex digits two at a time.
constexpr std::array<char, 512> kHexPairs = [] {
  std::array<char, 512> pairs{};
  for (int i = 0; i < 256; ++i) {
    pairs[2 * i] = "0123456789abcdef"[i >> 4];
    pairs[2 * i + 1] = "0123456789abcdef"[i & 0xf];
  }
  return pairs;
}();

}  // namespace

char* PutETag(uint64_t version, char* out) {
  // By hand, a byte at a time: std::to_chars in base 16 cost ~115 instructions for the 13 digits
  // of a version seeded from the clock, on every answer.
  int digits = version == 0 ? 1 : (std::bit_width(version) + 3) / 4;
  char* const end = out + digits + 2;
  out[0] = '"';
  char* p = end - 1;
  *p = '"';
  for (; digits >= 2; digits -= 2) {
    p -= 2;
    std::memcpy(p, &kHexPairs[2 * (version & 0xff)], 2);
    version >>= 8;
  }
  if (digits == 1) *--p = "0123456789abcdef"[version & 0xf];
  return end;
}

void AppendETag(uint64_t version, std::string& out) {
  char tag[kMaxETagBytes];
  out.append(tag, PutETag(version, tag));
}

bool IsWildcard(std::string_view header) { return TrimOws(header) == "*"; }

std::optional<IfMatch> ParseIfMatch(std::string_view header) {
  header = TrimOws(header);
  if (header.empty()) return IfMatch{};
  if (header == "*") return IfMatch{IfMatch::Kind::kAny, 0};
  IfMatch result{IfMatch::Kind::kVersion, 0};
  bool two_versions = false;
  const bool valid = ForEachTag(header, [&](const Tag& tag) {
    if (tag.weak) return;  // strong comparison: a weak tag matches nothing
    const uint64_t version = VersionOf(tag.opaque);
    if (version == 0) return;
    if (result.version != 0 && result.version != version) two_versions = true;
    result.version = version;
  });
  if (!valid || two_versions) return std::nullopt;
  return result;
}

bool IsValidIfNoneMatch(std::string_view header) {
  header = TrimOws(header);
  return header.empty() || header == "*" || ForEachTag(header, [](const Tag&) {});
}

bool IfNoneMatchMatches(std::string_view header, uint64_t version) {
  header = TrimOws(header);
  if (header == "*") return true;
  bool match = false;
  // A malformed list (the caller validated it) matches nothing.
  static_cast<void>(ForEachTag(header, [&](const Tag& tag) {
    // Weak comparison: W/ is ignored. (VersionOf gives 0 for foreign tags; no entry has it.)
    match = match || (version != 0 && VersionOf(tag.opaque) == version);
  }));
  return match;
}

}  // namespace rendezvous::http

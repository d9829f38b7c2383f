// Entity tags (RFC 9110 section 8.8.3) of stored values, and the conditional request headers
// If-Match and If-None-Match that carry them back (RFC 9110 section 13.1).
//
// A value's ETag is its store version (kv::EntryView::version, which changes on every write of the
// key and is never 0 for a live entry) in lower-case hex without leading zeros, quoted: "1f". It
// is a strong tag: two answers with the same tag have the same bytes. A tag of any other shape is
// well-formed but names no version, so it never matches.
//
// Header grammar: "*", or a comma-separated list of entity-tags (`"opaque"` or `W/"opaque"`), with
// optional whitespace around the elements and empty elements allowed. Anything else (an unquoted
// tag, "*" inside a list, bytes after a closing quote) is malformed: the caller answers 400.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rendezvous::http {

// The longest ETag: 16 hex digits (a uint64_t) and two quotes.
inline constexpr size_t kMaxETagBytes = 18;

// Writes the ETag of `version`, quotes included ("\"1f\""), at `out` (room for kMaxETagBytes);
// returns its end.
char* PutETag(uint64_t version, char* out);

// Appends the ETag of `version` to `out`. Allocation-free when `out` has room for 18 more bytes.
void AppendETag(uint64_t version, std::string& out);

// If-Match on a write (POST, PUT, DELETE), reduced to what the store can check atomically.
struct IfMatch {
  enum class Kind : uint8_t {
    kAbsent,   // no If-Match header: no condition
    kAny,      // "*": the key must exist
    kVersion,  // the live entry's version must be `version`
  };
  Kind kind = Kind::kAbsent;
  // kVersion: the one version the list names. 0 when it names none of ours (only weak tags or
  // tags of another shape): no live entry has version 0, so the condition always fails, as
  // RFC 9110's strong comparison requires.
  uint64_t version = 0;
};

// Parses an If-Match value ("" = the header is absent). nullopt when it is malformed, or when
// it lists two different versions of ours: the store compares against one version, and no
// client of this server has a reason to send two.
[[nodiscard]] std::optional<IfMatch> ParseIfMatch(std::string_view header);

// Whether an If-None-Match value is well-formed ("*" or a list of entity-tags). "" is valid (the
// header is absent).
[[nodiscard]] bool IsValidIfNoneMatch(std::string_view header);

// Whether the If-None-Match value `header` (valid and non-empty) matches a live entry of
// `version`: "*" does, and so does a tag equal to its ETag under the weak comparison (a W/ prefix
// is ignored, as RFC 9110 section 13.1.2 requires for If-None-Match).
[[nodiscard]] bool IfNoneMatchMatches(std::string_view header, uint64_t version);

// Whether `header` (trimmed of surrounding whitespace) is exactly "*".
[[nodiscard]] bool IsWildcard(std::string_view header);

}  // namespace rendezvous::http

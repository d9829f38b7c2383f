// Request-target parsing: the single place where a key comes from.
//
// Two steps, because the order of checks (docs/compatibility.md "Request path") puts the Host
// check between them:
//   1. ParseTarget: which form the target has, and where its path is (query cut off).
//   2. DecodeKey: the path, without its first '/', percent-decoded into the caller's buffer.
// The rules, and the original server's behaviour they keep:
//   - origin-form "/path?query": the query is ignored; "//dk" is the key "/dk", no
//     path cleaning ("x/../y" stays), a trailing '/' is part of the key;
//   - absolute-form "http://host[:port]/path" (scheme http or https, any case): the host is
//     ignored; an empty path is kKeyRequired;
//   - asterisk-form "*" (is_asterisk; the handler answers "OPTIONS *") and authority-form
//     "host:port" (CONNECT) are kBadTarget (the original stored the key "*"); anything else without a leading '/' is kBadRequest;
//   - the raw path "/" is the index page (so "/?x=1" is too; "/%2F" is the key "/");
//   - %XX in either case decodes to the byte 0xXX, any byte (NUL, '/', '?', '#', UTF-8) included;
//     '+' stays '+'; a '%' not followed by two hex digits is kBadPercentEncoding. Bytes that are
//     not part of an escape are kept as they are.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/errors.h"

namespace rendezvous::http {

struct ParsedTarget {
  // Set when the target is unusable (kBadRequest, kBadTarget or kKeyRequired); then `path` is
  // empty.
  std::optional<Error> error;
  // The raw (still percent-encoded) path: starts with '/', query cut off. A view into the target.
  std::string_view path;
  // The asterisk-form "*" (error kBadTarget): only OPTIONS may use it, to ask about the server
  // itself (RFC 9110 9.3.7), and the handler answers that one.
  bool is_asterisk = false;

  bool is_index_page() const { return !error && path == "/"; }
};

// Step 1: classifies `target` and finds its path.
ParsedTarget ParseTarget(std::string_view target);

// Step 2: writes the key for `path` (a ParsedTarget::path, so it starts with '/') into `key`,
// replacing its contents; `key`'s capacity is reused, so a warm buffer costs no allocation.
// Returns kBadPercentEncoding for an invalid escape (then `key` holds garbage), else nullopt.
// An empty key is not an error here; the caller checks emptiness and length.
[[nodiscard]] std::optional<Error> DecodeKey(std::string_view path, std::string& key);

}  // namespace rendezvous::http

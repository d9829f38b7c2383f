// Request-target parsing and percent-decoding (see target.h for the rules).
#include "http/target.h"

#include <cstdint>

#include "absl/strings/ascii.h"

namespace rendezvous::http {
namespace {

// Value of a hex digit, or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The target up to (not including) the first '?'.
std::string_view CutQuery(std::string_view target) {
  const size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// For "http://..." or "https://..." (scheme case-insensitive, RFC 3986 3.1): the part after
// "://"; nullopt for any other target. (`prefix` above is lower case.)
std::optional<std::string_view> AfterHttpScheme(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (StartsWithIgnoreCase(target, scheme)) return target.substr(scheme.size());
  }
  return std::nullopt;
}

}  // namespace

ParsedTarget ParseTarget(std::string_view target) {
  if (!target.empty() && target.front() == '/') return {std::nullopt, CutQuery(target)};

  if (std::optional<std::string_view> rest = AfterHttpScheme(target)) {
    // The authority ends at the first '/' (the path) or '?' (the query, with an empty path).
    const size_t end = rest->find_first_of("/?");
    if (end == std::string_view::npos || (*rest)[end] == '?') {
      return {Error::kKeyRequired, {}};
    }
    return {std::nullopt, CutQuery(rest->substr(end))};
  }

  // "*" (OPTIONS *) and "host:port" (CONNECT) are well-formed targets that name no key.
  if (target == "*") return {Error::kBadTarget, {}, /*is_asterisk=*/true};
  if (target.find(':') != std::string_view::npos && target.find('/') == std::string_view::npos) {
    return {Error::kBadTarget, {}};
  }
  return {Error::kBadRequest, {}};
}

std::optional<Error> DecodeKey(std::string_view path, std::string& key) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  key.clear();
  size_t percent = path.find('%');
  if (percent == std::string_view::npos) {  // the common case: nothing to decode
    key.append(path);
    return std::nullopt;
  }
  key.reserve(path.size());
  size_t done = 0;
  while (percent != std::string_view::npos) {
    key.append(path.substr(done, percent - done));
    if (path.size() - percent < 3) return Error::kBadPercentEncoding;
    const int high = HexValue(path[percent + 1]);
    const int low = HexValue(path[percent + 2]);
    if (high < 0 || low < 0) return Error::kBadPercentEncoding;
    key.push_back(static_cast<char>(static_cast<uint8_t>(high * 16 + low)));
    done = percent + 3;
    percent = path.find('%', done);
  }
  key.append(path.substr(done));
  return std::nullopt;
}

}  // namespace rendezvous::http

// The scheme and host the client used, from a trusted proxy's headers (see public_origin.h).
#include "http/public_origin.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace rendezvous::http {
namespace {

constexpr size_t kMaxHostBytes = 255;

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The last ','-separated entry of a list, trimmed (empty for an empty list).
std::string_view LastEntry(std::string_view list) {
  const size_t comma = list.rfind(',');
  return Trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

// The value of parameter `name` in the last element of a Forwarded header that has it, without
// its quotes. Elements are ','-separated, pairs ';'-separated (RFC 7239 section 4). A quoted
// value holding ',' or ';' is split wrongly here, which only makes it fail the checks after.
std::optional<std::string_view> LastForwardedParameter(std::string_view forwarded,
                                                       std::string_view name) {
  std::optional<std::string_view> found;
  while (!forwarded.empty()) {
    const size_t end = forwarded.find_first_of(",;");
    std::string_view pair = Trim(forwarded.substr(0, end));
    forwarded.remove_prefix(end == std::string_view::npos ? forwarded.size() : end + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = Trim(pair.substr(0, equals));
    if (!absl::EqualsIgnoreCase(absl::string_view(key.data(), key.size()),
                                absl::string_view(name.data(), name.size()))) {
      continue;
    }
    std::string_view value = Trim(pair.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    found = value;
  }
  return found;
}

std::optional<bool> ParseProto(std::string_view proto) {
  const absl::string_view p(proto.data(), proto.size());
  if (absl::EqualsIgnoreCase(p, "https")) return true;
  if (absl::EqualsIgnoreCase(p, "http")) return false;
  return std::nullopt;
}

}  // namespace

bool IsPlausibleHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostBytes) return false;
  for (const char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

PublicOrigin ResolvePublicOrigin(const Request& request) {
  PublicOrigin origin;
  origin.host = request.host;

  std::optional<bool> https;
  if (!request.forwarded_proto.empty()) https = ParseProto(LastEntry(request.forwarded_proto));
  if (!https) {
    if (auto proto = LastForwardedParameter(request.forwarded, "proto")) {
      https = ParseProto(*proto);
    }
  }
  origin.https = https.value_or(false);

  std::optional<std::string_view> host;
  if (!request.forwarded_host.empty()) host = LastEntry(request.forwarded_host);
  if (!host || !IsPlausibleHost(*host)) host = LastForwardedParameter(request.forwarded, "host");
  if (host && IsPlausibleHost(*host)) origin.host = *host;
  return origin;
}

}  // namespace rendezvous::http

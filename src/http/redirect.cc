#include "http/redirect.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "http/errors.h"

namespace rendezvous::http {
namespace {

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6LiteralChar(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

// The host part of a Host header value ("example.com:8080" -> "example.com", "[::1]:80" ->
// "[::1]"), or nullopt when it is empty or holds anything else.
std::optional<std::string_view> HostOf(std::string_view value) {
  std::string_view host;
  std::string_view rest;
  if (value.starts_with('[')) {
    const size_t close = value.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    for (char c : value.substr(1, close - 1)) {
      if (!IsIpv6LiteralChar(c)) return std::nullopt;
    }
    host = value.substr(0, close + 1);
    rest = value.substr(close + 1);
  } else {
    const size_t colon = value.find(':');
    host = value.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : value.substr(colon);
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!IsHostNameChar(c)) return std::nullopt;
    }
  }
  if (!rest.empty()) {  // ":port"
    if (rest[0] != ':' || rest.size() > 6) return std::nullopt;
    for (char c : rest.substr(1)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
  }
  return host;
}

// The path and query of an origin-form or absolute-form target; nullopt for "*" and
// authority-form, which name no resource to redirect to.
std::optional<std::string_view> PathOf(std::string_view target) {
  if (target.starts_with('/')) return target;
  const size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const size_t path = target.find('/', scheme_end + 3);
  if (path == std::string_view::npos) return std::string_view("/");
  return target.substr(path);
}

}  // namespace

std::optional<std::string> RedirectHandler::Location(std::string_view host,
                                                     std::string_view target) const {
  std::optional<std::string_view> name = HostOf(host);
  std::optional<std::string_view> path = PathOf(target);
  if (!name || !path) return std::nullopt;
  const uint16_t port = tls_port_.load(std::memory_order_relaxed);
  std::string location = "https://";
  location.append(*name);
  if (port != 443) absl::StrAppend(&location, ":", port);
  location.append(*path);
  return location;
}

void RedirectHandler::Handle(const Request& request, Response& response, Done done) {
  response.Reset();
  std::optional<std::string> location = Location(request.host, request.target);
  if (!location) {
    SetError(request.host.empty() ? Error::kMissingHost : Error::kBadRequest, response);
  } else {
    response.status = 308;
    response.content_type = ContentType::kTextPlain;
    response.body = "Permanent Redirect\n";
    absl::StrAppend(&response.extra_headers, "Location: ", *location, "\r\n");
  }
  response.head = request.method == Method::kHead;
  done();
}

}  // namespace rendezvous::http

// Redis endpoint URLs (url.h).
#include "redis/url.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace rendezvous::redis {
namespace {

// Decimal digits only: no sign, no spaces.
bool ParseDecimal(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t value = 0;
  for (char c : text) value = value * 10 + static_cast<uint64_t>(c - '0');  // <= 10 digits
  if (value > max) return false;
  *out = value;
  return true;
}

// Splits "[[user]:password@]rest" at the last '@'.
void TakeUserInfo(std::string_view* authority, Endpoint* endpoint) {
  size_t at = authority->rfind('@');
  if (at == std::string_view::npos) return;
  std::string_view info = authority->substr(0, at);
  *authority = authority->substr(at + 1);
  size_t colon = info.find(':');
  if (colon == std::string_view::npos) {
    endpoint->password = std::string(info);  // "pw@host": the password alone, as redis-cli reads it
  } else {
    endpoint->user = std::string(info.substr(0, colon));
    endpoint->password = std::string(info.substr(colon + 1));
  }
}

bool ValidHostName(std::string_view host) {
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

UrlError ParseTcp(std::string_view rest, Endpoint* endpoint) {
  endpoint->kind = Endpoint::Kind::kTcp;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  TakeUserInfo(&authority, endpoint);

  std::string_view host;
  std::string_view port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return UrlError::kBadHost;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return UrlError::kBadHost;
      port = after.substr(1);
      if (port.empty()) return UrlError::kBadPort;
    }
    for (char c : host) {
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                c == ':' || c == '.';
      if (!ok) return UrlError::kBadHost;
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return UrlError::kBadPort;
    }
    if (!ValidHostName(host)) return UrlError::kBadHost;
  }
  if (host.empty()) return UrlError::kMissingHost;
  endpoint->host = std::string(host);
  if (!port.empty()) {
    uint64_t number = 0;
    if (!ParseDecimal(port, 65535, &number) || number == 0) return UrlError::kBadPort;
    endpoint->port = static_cast<uint16_t>(number);
  }
  if (!path.empty()) {
    if (path.find_first_of("/?#") != std::string_view::npos) {
      size_t end = path.find_first_of("/?#");
      uint64_t db = 0;
      if (!ParseDecimal(path.substr(0, end), std::numeric_limits<int32_t>::max(), &db)) {
        return UrlError::kBadDatabase;
      }
      return UrlError::kTrailingText;
    }
    uint64_t db = 0;
    if (!ParseDecimal(path, std::numeric_limits<int32_t>::max(), &db)) {
      return UrlError::kBadDatabase;
    }
    endpoint->db = static_cast<uint32_t>(db);
  }
  return UrlError::kOk;
}

UrlError ParseUnix(std::string_view rest, Endpoint* endpoint) {
  endpoint->kind = Endpoint::Kind::kUnix;
  // The user-info, if any, ends at the last '@' before the path's leading '/'.
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return UrlError::kMissingSocketPath;
  std::string_view authority = rest.substr(0, slash);
  TakeUserInfo(&authority, endpoint);
  if (!authority.empty()) return UrlError::kMissingSocketPath;  // unix://host/... is not a path
  std::string_view path = rest.substr(slash);
  size_t question = path.find('?');
  std::string_view query;
  if (question != std::string_view::npos) {
    query = path.substr(question + 1);
    path = path.substr(0, question);
  }
  if (path.size() < 2) return UrlError::kMissingSocketPath;
  endpoint->path = std::string(path);
  if (question != std::string_view::npos) {
    if (!query.starts_with("db=")) return UrlError::kBadQuery;
    uint64_t db = 0;
    if (!ParseDecimal(query.substr(3), std::numeric_limits<int32_t>::max(), &db)) {
      return UrlError::kBadDatabase;
    }
    endpoint->db = static_cast<uint32_t>(db);
  }
  return UrlError::kOk;
}

}  // namespace

UrlError ParseUrl(std::string_view url, Endpoint* endpoint) {
  *endpoint = Endpoint{};
  if (url.starts_with("redis://")) return ParseTcp(url.substr(8), endpoint);
  if (url.starts_with("unix://")) return ParseUnix(url.substr(7), endpoint);
  if (url.starts_with("redis+unix://")) return ParseUnix(url.substr(13), endpoint);
  return UrlError::kNotRedisUrl;
}

std::string_view UrlErrorText(UrlError error) {
  switch (error) {
    case UrlError::kOk:
      return "ok";
    case UrlError::kNotRedisUrl:
      return "not a redis URL: expected redis://host:port/db or unix:///path/to/socket";
    case UrlError::kMissingHost:
      return "the host is missing (redis://host:port/db)";
    case UrlError::kBadHost:
      return "the host is not a host name, an IPv4 address or a bracketed IPv6 address";
    case UrlError::kBadPort:
      return "the port is not a number from 1 to 65535";
    case UrlError::kBadDatabase:
      return "the database is not a decimal number below 2147483648";
    case UrlError::kMissingSocketPath:
      return "the socket path is missing or not absolute (unix:///path/to/socket)";
    case UrlError::kBadQuery:
      return "the only query a unix socket URL takes is ?db=N";
    case UrlError::kTrailingText:
      return "unexpected text after the database number";
  }
  return "unknown error";
}

std::string EndpointForLog(const Endpoint& endpoint) {
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    return absl::StrCat("unix://", endpoint.path, "?db=", endpoint.db);
  }
  bool v6 = endpoint.host.find(':') != std::string::npos;
  return absl::StrCat("redis://", v6 ? "[" : "", endpoint.host, v6 ? "]" : "", ":", endpoint.port,
                      "/", endpoint.db);
}

}  // namespace rendezvous::redis

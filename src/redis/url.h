// Redis endpoint URLs: what `-db redis://...` names, parsed into an Endpoint.
//
// Accepted forms (the password and user are taken literally, no percent-decoding; the user-info
// part ends at the last '@' before the path, so a password may itself contain '@' or ':'):
//   redis://[[user]:password@]host[:port][/db]     host: a name, IPv4, or [IPv6]; port 6379
//   unix://[[user]:password@]/path/to/sock[?db=N]   also spelled redis+unix://
// The database is a decimal number (default 0); whether the server has that many databases is
// only known at connect time (SELECT fails then).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rendezvous::redis {

struct Endpoint {
  enum class Kind : uint8_t { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;  // kTcp: without the IPv6 brackets
  uint16_t port = 6379;
  std::string path;      // kUnix
  std::string user;      // empty: AUTH with the password only (the "default" user)
  std::string password;  // empty: no AUTH
  uint32_t db = 0;
};

enum class UrlError : uint8_t {
  kOk = 0,
  kNotRedisUrl,        // the scheme is none of redis://, unix://, redis+unix://
  kMissingHost,        // redis:// with an empty host
  kBadHost,            // an unclosed '[' or characters a host cannot have
  kBadPort,            // not a number in 1..65535
  kBadDatabase,        // not a decimal number below 2^31
  kMissingSocketPath,  // unix:// without an absolute path
  kBadQuery,           // a query other than db=N
  kTrailingText,       // something after the database number
};

// Parses `url` into `endpoint`. On any error `endpoint` is left unspecified.
[[nodiscard]] UrlError ParseUrl(std::string_view url, Endpoint* endpoint);

// One line that says what is wrong, for the start-up error message ("redis URL: ...").
std::string_view UrlErrorText(UrlError error);

// The endpoint without its password, for logs and error messages: "redis://host:6379/0" or
// "unix:///path?db=0".
std::string EndpointForLog(const Endpoint& endpoint);

}  // namespace rendezvous::redis

// Config validation and the small parsers and formatters shared by flags.cc.
#include "app/config.h"

#include <algorithm>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "net/client_address.h"

namespace rendezvous::app {
namespace {

std::optional<std::string> CheckSize(absl::string_view flag, size_t value, size_t limit,
                                     absl::string_view why) {
  if (value >= 1 && value <= limit) return std::nullopt;
  return absl::StrCat(flag, " must be between 1 and ", limit, ", got ", value, why);
}

// Zero, negative and infinite durations are refused: the original accepted them without checks,
// and they mean "expire at once", "refill never" or "save in a busy loop".
std::optional<std::string> CheckDuration(absl::string_view flag, absl::Duration value) {
  if (value == absl::InfiniteDuration() || value == -absl::InfiniteDuration()) {
    return absl::StrCat(flag, " must be a finite duration such as 90s or 1h30m, got ",
                        FormatGoDuration(value));
  }
  if (value <= absl::ZeroDuration()) {
    return absl::StrCat(flag, " must be greater than zero, got ", FormatGoDuration(value));
  }
  if (value > kMaxDuration) {
    return absl::StrCat(flag, " must be at most ", FormatGoDuration(kMaxDuration),
                        " (100 years), got ", FormatGoDuration(value));
  }
  return std::nullopt;
}

// Go's fmtFrac: `value` has `precision` decimal places; prints it with trailing zeros trimmed.
std::string FormatFraction(uint64_t value, int precision) {
  uint64_t scale = 1;
  for (int i = 0; i < precision; ++i) scale *= 10;
  std::string out = absl::StrCat(value / scale);
  uint64_t fraction = value % scale;
  if (fraction == 0) return out;
  std::string digits = absl::StrCat(fraction + scale).substr(1);  // zero-padded
  digits.erase(digits.find_last_not_of('0') + 1);
  return absl::StrCat(out, ".", digits);
}

}  // namespace

std::vector<common::CidrBlock> Config::DefaultTrustedProxies() {
  return net::ProxyPolicy::Default().trusted;
}

std::optional<std::string> Validate(const Config& config) {
  if (auto error = CheckSize("-maxKeySize", config.max_key_bytes, kMaxKeyBytesLimit,
                             " (a key must fit in the 8 KiB request line, even percent-encoded)")) {
    return error;
  }
  if (auto error =
          CheckSize("-maxValueSize", config.max_value_bytes, kMaxValueBytesLimit, " (16 MiB)")) {
    return error;
  }
  if (auto error = CheckSize("-maxNumKV", config.max_entries, kMaxEntriesLimit, "")) {
    return error;
  }
  if (config.max_requests < kMinMaxRequests) {
    return absl::StrCat("-maxRequests must be at least ", kMinMaxRequests, ", got ",
                        config.max_requests, " (a POST costs ", http::kWriteCostTokens,
                        " tokens, so it could never pass)");
  }
  if (config.max_requests > kMaxMaxRequests) {
    return absl::StrCat("-maxRequests must be at most ", kMaxMaxRequests, ", got ",
                        config.max_requests);
  }
  if (auto error = CheckDuration("-expireDuration", config.expire)) return error;
  if (auto error = CheckDuration("-resetDuration", config.reset)) return error;
  if (auto error = CheckDuration("-saveDuration", config.save)) return error;
  if (config.threads < 0 || config.threads > kMaxThreads) {
    return absl::StrCat("-threads must be between 0 (one per core) and ", kMaxThreads, ", got ",
                        config.threads);
  }
  if (!config.db_path.empty() && !config.redis && config.max_key_bytes > kMaxLmdbKeyBytes) {
    return absl::StrCat("-maxKeySize must be at most ", kMaxLmdbKeyBytes,
                        " with the LMDB store (LMDB's key limit), got ", config.max_key_bytes,
                        "; -db \"\" (memory) or a redis:// URL allows up to ", kMaxKeyBytesLimit);
  }
  if (config.max_connections < 1 || config.max_connections > kMaxConnectionsLimit) {
    return absl::StrCat("-maxConnections must be between 1 and ", kMaxConnectionsLimit, ", got ",
                        config.max_connections);
  }
  if (config.max_connections_per_client < 1 ||
      config.max_connections_per_client > config.max_connections) {
    return absl::StrCat("-maxConnectionsPerIP must be between 1 and -maxConnections (",
                        config.max_connections, "), got ", config.max_connections_per_client);
  }
  // A quota at or above -maxNumKV never bites, and is accepted: the original's flags alone (say
  // -maxNumKV 50) must still start the server with the default quota.
  if (config.max_keys_per_client > kMaxEntriesLimit) {
    return absl::StrCat("-maxKeysPerIP must be between 0 (no quota) and ", kMaxEntriesLimit,
                        ", got ", config.max_keys_per_client);
  }
  if (config.ipv6_prefix_bits < 1 || config.ipv6_prefix_bits > 128) {
    return absl::StrCat("-ipv6Prefix must be between 1 and 128, got ", config.ipv6_prefix_bits);
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return config.tls_cert.empty()
               ? std::string("-tlsKey needs -tlsCert: give the certificate file too")
               : std::string("-tlsCert needs -tlsKey: give the private key file too");
  }
  if (config.redirect_http && !config.tls()) {
    return std::string("-redirectHTTP needs -tlsCert and -tlsKey (there is no https:// to "
                       "redirect to)");
  }
  if (config.tls() && config.tls_port != 0 && config.tls_port == config.port) {
    return absl::StrCat("-tlsPort must differ from -port, both are ", config.port);
  }
  return std::nullopt;
}

int WorkerThreads(const Config& config) {
  if (config.threads > 0) return config.threads;
  unsigned cores = std::thread::hardware_concurrency();  // 0 when unknown
  return static_cast<int>(std::clamp<unsigned>(cores, 1, kMaxThreads));
}

std::string FormatGoDuration(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "inf";
  if (d == -absl::InfiniteDuration()) return "-inf";
  // Sub-nanosecond remainders are dropped, as Go's durations have none.
  int64_t nanos = absl::ToInt64Nanoseconds(d);
  if (nanos == 0) return "0s";
  std::string sign = nanos < 0 ? "-" : "";
  // Negating through uint64_t keeps INT64_MIN well defined.
  uint64_t u = nanos < 0 ? uint64_t{0} - static_cast<uint64_t>(nanos) : nanos;
  if (u < 1'000) return absl::StrCat(sign, u, "ns");
  if (u < 1'000'000) return absl::StrCat(sign, FormatFraction(u, 3), "µs");
  if (u < 1'000'000'000) return absl::StrCat(sign, FormatFraction(u, 6), "ms");
  uint64_t seconds = u / 1'000'000'000;
  uint64_t hours = seconds / 3600;
  uint64_t minutes = seconds / 60 % 60;
  std::string out = sign;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, FormatFraction(u % 60'000'000'000, 9), "s");
  return out;
}

bool LooksLikeUrl(std::string_view db) {
  const size_t scheme_end = db.find("://");
  return scheme_end != std::string_view::npos && scheme_end > 0 &&
         db.substr(0, scheme_end).find('/') == std::string_view::npos;
}

std::string StoreDescription(const Config& config) {
  if (config.redis) return "redis " + redis::EndpointForLog(*config.redis);
  if (config.db_path.empty()) return "memory";
  return config.db_path;
}

}  // namespace rendezvous::app

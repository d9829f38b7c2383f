// Every command-line flag of the server, and how their values become a validated Config. The
// command-line syntax (Go's `flag` package on top of Abseil flags) is in go_flag_syntax.cc.
#include "app/flags.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/go_flag_syntax.h"
#include "common/version.h"
#include "http/request_cost.h"
#include "net/client_address.h"

// The original server's ten flags keep their names (typo included), meanings and defaults. The
// sizes are unsigned so that Abseil itself refuses a negative size; the usage still calls them
// "int".
ABSL_FLAG(uint64_t, maxKeySize, 100, "maximum allowed key length in bytes");
ABSL_FLAG(uint64_t, maxValueSize, 1000, "maximum allowed value size in bytes");
ABSL_FLAG(uint64_t, maxNumKV, 100000, "maximum number of key-value pairs allowed");
ABSL_FLAG(absl::Duration, expireDuration, absl::Hours(2), "duration after which a key expires");
// The original reset every counter at once each -resetDuration and saved a snapshot each
// -saveDuration; here the bucket refills continuously and every write is committed at once, so
// the texts say what the durations mean now.
ABSL_FLAG(absl::Duration, resetDuration, absl::Minutes(1),
          "time in which an empty rate-limit bucket refills completely (buckets refill "
          "continuously, maxRequests tokens per resetDuration)");
ABSL_FLAG(absl::Duration, saveDuration, absl::Minutes(30),
          "longest time between fsyncs of the database file (each write is committed at once; "
          "this bounds what a power cut can lose; see -syncWrites)");
ABSL_FLAG(int64_t, maxRequests, 11,
          "maximum request tokens per IP per resetDuration (POST=3 tokens, GET=1 token)");
// The help text above is a literal (Abseil needs a constant); it must name the real costs.
static_assert(rendezvous::http::kWriteCostTokens == 3 && rendezvous::http::kOtherCostTokens == 1,
              "update the -maxRequests help text");
ABSL_FLAG(std::string, port, "80", "port on which the server listens (0 picks a free port)");
ABSL_FLAG(std::string, l, "0.0.0.0",
          "interface to listen (an IPv4 or IPv6 address; 0.0.0.0 accepts IPv6 clients too)");
ABSL_FLAG(bool, disableLocalIPWaring, false, "disable warnings about requests from localhost");
// Flags the original did not have.
ABSL_FLAG(std::string, trustedProxies, std::string(rendezvous::net::kDefaultTrustedProxies),
          "comma-separated CIDR blocks of proxies whose X-Forwarded-For is believed; "
          "empty trusts none");
ABSL_FLAG(int, threads, 0, "number of I/O threads; 0 uses one per CPU core");
ABSL_FLAG(std::string, db, "store.db",
          "path of the database file; empty keeps the store in memory only; "
          "redis://[:password@]host:port[/db] or unix:///path/to/socket[?db=N] shares the store "
          "(and the rate limits) with every server on that Redis");
ABSL_FLAG(bool, syncWrites, false, "acknowledge a write only after it is flushed to disk (fsync)");
ABSL_FLAG(int, ipv6Prefix, 64,
          "leading bits of an IPv6 client address that share one rate-limit bucket");
ABSL_FLAG(uint64_t, maxConnections, 10000, "maximum number of open connections");
ABSL_FLAG(uint64_t, maxConnectionsPerIP, 128,
          "maximum open connections per client address (IPv6: per -ipv6Prefix network)");
ABSL_FLAG(uint64_t, maxKeysPerIP, 250,
          "maximum live keys created per client address (IPv6: per -ipv6Prefix network); "
          "0 = no quota");
ABSL_FLAG(std::string, tlsCert, "",
          "PEM certificate file (the certificate, then any intermediates) for the TLS listener; "
          "needs -tlsKey; SIGHUP reloads it");
ABSL_FLAG(std::string, tlsKey, "", "PEM private key file of -tlsCert; SIGHUP reloads it");
ABSL_FLAG(std::string, tlsPort, "",
          "port of the TLS listener, next to the plain one on -port (default 443 when -tlsCert "
          "is given)");
ABSL_FLAG(bool, redirectHTTP, false,
          "answer every plain HTTP request with 308 to the same URL on https:// (needs -tlsCert)");
ABSL_FLAG(absl::Duration, maxWait, absl::Seconds(60),
          "longest a GET with Prefer: wait=N or ?wait=N waits for its key to change");
ABSL_FLAG(uint64_t, maxWaiters, 10000,
          "maximum requests waiting for a change at once (long polls); 0 = answer waits at once");
ABSL_FLAG(std::string, adminListen, "",
          "ADDR:PORT of the admin listener serving /metrics, /healthz and /readyz "
          "(e.g. 127.0.0.1:9090 or [::1]:9090; empty: none)");
ABSL_FLAG(std::string, accessLog, "",
          "file that gets one line per request, reopened on SIGHUP; - for stderr; empty: none");
ABSL_FLAG(bool, version, false, "print the version and exit");

namespace rendezvous::app {
namespace {

// Our flags, by name. Abseil's own flags (--flagfile, --helpfull, ...) live in the same registry
// but are not ours to accept: they are unknown flags here.
constexpr absl::string_view kFlagNames[] = {
    "maxKeySize",
    "maxValueSize",
    "maxNumKV",
    "expireDuration",
    "resetDuration",
    "saveDuration",
    "maxRequests",
    "port",
    "l",
    "disableLocalIPWaring",
    "trustedProxies",
    "threads",
    "db",
    "syncWrites",
    "ipv6Prefix",
    "maxConnections",
    "maxConnectionsPerIP",
    "maxKeysPerIP",
    "tlsCert",
    "tlsKey",
    "tlsPort",
    "redirectHTTP",
    "maxWait",
    "maxWaiters",
    "adminListen",
    "accessLog",
    "version",
};

std::optional<uint16_t> ParsePort(absl::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text, &port) || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// "ADDR:PORT" with an IPv4 address or a bracketed IPv6 one ("[::1]:9090").
std::optional<std::pair<common::IpAddress, uint16_t>> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  absl::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == absl::string_view::npos) return std::nullopt;
  } else if (host.find(':') != absl::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs its brackets
  }
  std::optional<common::IpAddress> ip = common::IpAddress::Parse(std::string(host));
  std::optional<uint16_t> port = ParsePort(text.substr(colon + 1));
  if (!ip || !port) return std::nullopt;
  return std::make_pair(*ip, *port);
}

// Reads the parsed flag values into a Config and checks it.
FlagsResult BuildConfig() {
  Config config;
  config.max_key_bytes = absl::GetFlag(FLAGS_maxKeySize);
  config.max_value_bytes = absl::GetFlag(FLAGS_maxValueSize);
  config.max_entries = absl::GetFlag(FLAGS_maxNumKV);
  config.expire = absl::GetFlag(FLAGS_expireDuration);
  config.reset = absl::GetFlag(FLAGS_resetDuration);
  config.save = absl::GetFlag(FLAGS_saveDuration);
  config.max_requests = absl::GetFlag(FLAGS_maxRequests);
  config.disable_localhost_warning = absl::GetFlag(FLAGS_disableLocalIPWaring);
  config.threads = absl::GetFlag(FLAGS_threads);
  config.db_path = absl::GetFlag(FLAGS_db);
  if (LooksLikeUrl(config.db_path)) {
    // A malformed URL is a malformed flag value (exit 2, as every other); an unreachable or
    // unsuitable Redis is found only when the server starts (exit 1).
    redis::Endpoint endpoint;
    const redis::UrlError url_error = redis::ParseUrl(config.db_path, &endpoint);
    if (url_error != redis::UrlError::kOk) {
      // Never echo a password: only the scheme and what follows the last '@'.
      const size_t at = config.db_path.rfind('@');
      const std::string safe = at == std::string::npos
                                   ? config.db_path
                                   : config.db_path.substr(0, config.db_path.find("://") + 3) +
                                         "...@" + config.db_path.substr(at + 1);
      return Failure(absl::StrCat("invalid value ", Quote(safe),
                                  " for flag -db: ", std::string(redis::UrlErrorText(url_error))));
    }
    config.redis = std::move(endpoint);
  }
  config.sync_writes = absl::GetFlag(FLAGS_syncWrites);
  config.ipv6_prefix_bits = absl::GetFlag(FLAGS_ipv6Prefix);
  config.max_connections = absl::GetFlag(FLAGS_maxConnections);
  config.max_connections_per_client = absl::GetFlag(FLAGS_maxConnectionsPerIP);
  config.max_keys_per_client = absl::GetFlag(FLAGS_maxKeysPerIP);
  config.tls_cert = absl::GetFlag(FLAGS_tlsCert);
  config.tls_key = absl::GetFlag(FLAGS_tlsKey);
  config.redirect_http = absl::GetFlag(FLAGS_redirectHTTP);
  config.max_wait = absl::GetFlag(FLAGS_maxWait);
  config.max_waiters = absl::GetFlag(FLAGS_maxWaiters);

  // The original joined "-l" and "-port" into a Go listen address, so it also took service
  // names and host names; this server binds exactly the address and port given.
  std::string port = absl::GetFlag(FLAGS_port);
  std::optional<uint16_t> port_number = ParsePort(port);
  if (!port_number) {
    return Failure(absl::StrCat("invalid value ", Quote(port),
                                " for flag -port: want a port number from 0 to 65535 "
                                "(0 picks a free port)"));
  }
  config.port = *port_number;

  if (std::string tls_port = absl::GetFlag(FLAGS_tlsPort); !tls_port.empty()) {
    std::optional<uint16_t> tls_port_number = ParsePort(tls_port);
    if (!tls_port_number) {
      return Failure(absl::StrCat("invalid value ", Quote(tls_port),
                                  " for flag -tlsPort: want a port number from 0 to 65535 "
                                  "(0 picks a free port)"));
    }
    if (config.tls_cert.empty()) {
      return Failure("-tlsPort needs -tlsCert and -tlsKey (no TLS listener without them)");
    }
    config.tls_port = *tls_port_number;
  }

  config.listen_address = absl::GetFlag(FLAGS_l);
  std::optional<common::IpAddress> listen_ip = common::IpAddress::Parse(config.listen_address);
  if (!listen_ip) {
    return Failure(absl::StrCat("invalid value ", Quote(config.listen_address),
                                " for flag -l: want an IP address such as 0.0.0.0 or ::1 "
                                "(an address, not a host name)"));
  }
  config.listen_ip = *listen_ip;

  config.access_log_path = absl::GetFlag(FLAGS_accessLog);
  if (std::string admin = absl::GetFlag(FLAGS_adminListen); !admin.empty()) {
    std::optional<std::pair<common::IpAddress, uint16_t>> address = ParseHostPort(admin);
    if (!address) {
      return Failure(absl::StrCat("invalid value ", Quote(admin),
                                  " for flag -adminListen: want ADDR:PORT such as "
                                  "127.0.0.1:9090 or [::1]:9090"));
    }
    config.has_admin_listener = true;
    config.admin_ip = address->first;
    config.admin_port = address->second;
    // The public port serves every path as a key: the admin endpoints must not take names there.
    // A wildcard (0.0.0.0, ::) overlaps every address of the same port.
    auto wildcard = [](const common::IpAddress& ip) {
      return ip == common::IpAddress() || ip == common::IpAddress::FromV4(0);
    };
    const bool same_address = config.admin_ip == config.listen_ip || wildcard(config.admin_ip) ||
                              wildcard(config.listen_ip);
    const bool public_port =
        config.admin_port == config.port || (config.tls() && config.admin_port == config.tls_port);
    if (config.admin_port != 0 && public_port && same_address) {
      return Failure(absl::StrCat("invalid value ", Quote(admin),
                                  " for flag -adminListen: it is the public address and port "
                                  "(-l, -port, -tlsPort); give the admin listener a port of its "
                                  "own"));
    }
  }

  std::string proxies = absl::GetFlag(FLAGS_trustedProxies);
  std::string proxies_error;
  std::optional<std::vector<common::CidrBlock>> trusted =
      net::ParseCidrList(proxies, &proxies_error);
  if (!trusted) {
    return Failure(absl::StrCat("invalid value ", Quote(proxies),
                                " for flag -trustedProxies: ", proxies_error));
  }
  config.trusted_proxies = std::move(*trusted);

  if (std::optional<std::string> error = Validate(config)) return Failure(*error);
  FlagsResult result;
  result.config = std::move(config);
  return result;
}

}  // namespace

std::string Usage(std::string_view program_name) {
  return GoUsage(absl::string_view(program_name.data(), program_name.size()), kFlagNames);
}

FlagsResult ParseFlags(int argc, char** argv) {
  ResetFlags(kFlagNames);
  if (std::optional<FlagsResult> early = ParseGoCommandLine(argc, argv, kFlagNames)) {
    return std::move(*early);
  }
  // After every flag, as Go programs check theirs: "-version" with a misspelt flag still fails,
  // and the version is printed whatever the other flags say.
  if (absl::GetFlag(FLAGS_version)) {
    FlagsResult version;
    version.output = "rendezvous-server " + std::string(common::Version()) + "\n";
    return version;
  }
  return BuildConfig();
}

}  // namespace rendezvous::app

// Config: the server's validated settings, the one thing app/ hands down to every component.
//
// Config is built from the command line by ParseFlags (app/flags.h), which validates it; code that
// builds a Config by hand (tests, benchmarks) should call Validate before using it. Each member's
// default is the flag's default, so `Config{}` is the configuration of a server started with no
// flags. Components get the parts they need in their constructors; nothing below app/ sees a
// Config or a flag.
//
// Value type; thread-compatible. The free functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "http/request_cost.h"
#include "redis/url.h"

namespace rendezvous::app {

// Upper bounds enforced by Validate. Each defends a resource or an invariant elsewhere:
// A key must fit in the 8 KiB request line even when every byte is percent-encoded (3 bytes
// each), with room left for the method, the "/ip/<address>/" prefix and " HTTP/1.1".
inline constexpr size_t kMaxKeyBytesLimit = 2048;
// LMDB's compiled-in key limit (mdb_env_get_maxkeysize): longer keys need the memory engine.
inline constexpr size_t kMaxLmdbKeyBytes = 511;
// A value (plus secret) is buffered whole in memory per request.
inline constexpr size_t kMaxValueBytesLimit = 16 * 1024 * 1024;
inline constexpr size_t kMaxEntriesLimit = 1'000'000'000;
// A bucket smaller than a write's cost could never let a write through.
inline constexpr int64_t kMinMaxRequests = http::kWriteCostTokens;
inline constexpr int64_t kMaxMaxRequests = 1'000'000'000;
// Durations are added to "now" as int64 nanoseconds in places; 100 years keeps that far from
// overflow (int64 nanoseconds reach about 292 years past 1970).
inline constexpr absl::Duration kMaxDuration = absl::Hours(24 * 365 * 100);
inline constexpr int kMaxThreads = 256;
inline constexpr size_t kMaxConnectionsLimit = 1'000'000;

struct Config {
  // -maxKeySize: longest key, in bytes after percent-decoding.
  size_t max_key_bytes = 100;
  // -maxValueSize: longest value; a secret sent with a POST counts against it too.
  size_t max_value_bytes = 1000;
  // -maxNumKV: most keys stored at once.
  size_t max_entries = 100000;
  // -expireDuration: a key's lifetime after its last write.
  absl::Duration expire = absl::Hours(2);
  // -resetDuration and -maxRequests: each client's bucket holds `max_requests` tokens and refills
  // at `max_requests` tokens per `reset`. What a request costs: http/request_cost.h.
  absl::Duration reset = absl::Minutes(1);
  int64_t max_requests = 11;
  // -saveDuration: time between automatic saves (flushes) of the store.
  absl::Duration save = absl::Minutes(30);
  // -port: TCP port; 0 asks the kernel for a free port (tests use this).
  uint16_t port = 80;
  // -l: the listening address as typed, and parsed. IpAddress keeps IPv4 in its mapped form, so
  // check the text or is_v4(): "0.0.0.0" is meant as the dual-stack wildcard (IPv4 and IPv6
  // clients alike, as the original's Go listener), "::1" as IPv6 loopback only.
  std::string listen_address = "0.0.0.0";
  common::IpAddress listen_ip = common::IpAddress::FromV4(0);
  // -disableLocalIPWaring (sic, the original's spelling): no warning for requests from localhost.
  bool disable_localhost_warning = false;
  // -trustedProxies: peers whose X-Forwarded-For is believed. Empty: trust nobody.
  std::vector<common::CidrBlock> trusted_proxies = DefaultTrustedProxies();
  // -threads: I/O threads; 0 means one per core (see WorkerThreads).
  int threads = 0;
  // -db: path of the store's database file; empty selects the in-memory engine; a redis://,
  // unix:// or redis+unix:// URL selects the Redis engine (then `redis` holds it, parsed).
  std::string db_path = "store.db";
  std::optional<redis::Endpoint> redis;
  // -syncWrites: every acknowledged write has waited for its fsync.
  bool sync_writes = false;
  // -ipv6Prefix: IPv6 clients are grouped by this many leading bits (one rate-limit bucket per
  // /64 by default, since one subscriber usually holds a whole /64).
  int ipv6_prefix_bits = 64;
  // -maxConnections and -maxConnectionsPerIP: open connections in total and per client (IPv4
  // address or IPv6 prefix; trusted proxies count only in the total). Past either, new
  // connections are closed at once, so a few clients cannot take every file descriptor.
  size_t max_connections = 10000;
  size_t max_connections_per_client = 128;
  // -maxKeysPerIP: live keys one client (IPv4 address or IPv6 prefix, as the rate limiter groups
  // them) may have created; 0 = no quota. Past it a new key is refused with 429 until one of the
  // client's keys expires or is deleted. 250 by default: with -maxNumKV 100000 it takes at least
  // 400 distinct client prefixes to fill the store, while one client can still keep hundreds of
  // rendezvous open. A value at or above -maxNumKV is allowed (it never bites), so the original's flags
  // with a small -maxNumKV still start.
  size_t max_keys_per_client = 250;
  // -tlsCert and -tlsKey: PEM files of the certificate (the leaf, then any intermediates) and its
  // private key; both or neither. Set: a TLS listener runs on -tlsPort next to the plain one.
  // SIGHUP reloads both files.
  std::string tls_cert;
  std::string tls_key;
  // -tlsPort: the TLS listener's port (443 unless given; 0 picks a free port, for tests).
  uint16_t tls_port = 443;
  // -redirectHTTP: the plain listener answers every request with 308 to its https:// URL.
  bool redirect_http = false;

  bool tls() const { return !tls_cert.empty(); }
  // -maxWait: the longest long poll (a longer Prefer: wait=N is cut to it); -maxWaiters: how many
  // may wait at once (0: waits are answered at once). Each waiter holds a connection too, so
  // -maxConnections bounds them as well.
  absl::Duration max_wait = absl::Seconds(60);
  size_t max_waiters = 10000;
  // -adminListen ADDR:PORT: the admin listener (/metrics, /healthz, /readyz); off when
  // has_admin_listener is false. Never the public address and port (ParseFlags refuses it).
  bool has_admin_listener = false;
  common::IpAddress admin_ip = common::IpAddress::FromV4(0x7f000001);
  uint16_t admin_port = 0;  // 0: the kernel picks one (tests); the start-up log names it
  // -accessLog: where one line per request goes: a file path (appended to, reopened on SIGHUP),
  // "-" for stderr, or "" (the default) for no access log.
  std::string access_log_path;

  // net::kDefaultTrustedProxies (loopback only), parsed: the one definition of the default,
  // which -trustedProxies and its -h text use too.
  static std::vector<common::CidrBlock> DefaultTrustedProxies();
};

// Checks every bound above. Returns nullopt when `config` is usable, otherwise one line naming
// the flag, the value and the reason, e.g.
//   "-maxRequests must be at least 3, got 2 (a POST costs 3 tokens, so it could never pass)".
// Does not look at listen_address/listen_ip or trusted_proxies: ParseFlags checks their text, nor
// into the TLS files: whether they load is checked at start (app::Run, exit 1).
[[nodiscard]] std::optional<std::string> Validate(const Config& config);

// Whether a -db value names a Redis server rather than a file: it has a URL scheme ("...://"
// before any '/'). A file whose name looks like that is still reachable as ./name.
[[nodiscard]] bool LooksLikeUrl(std::string_view db);

// The engine a Config selects, for the start-up line: "memory", the LMDB path, or the Redis URL
// without its password.
std::string StoreDescription(const Config& config);

// The number of I/O threads to run: config.threads, or when it is 0 the number of cores (at
// least 1, at most kMaxThreads).
int WorkerThreads(const Config& config);

// `d` in Go's time.Duration.String() form ("2h0m0s", "1m30s", "500ms", "0s"), so that messages
// and -h show durations as the original did. "inf"/"-inf" for infinite durations.
std::string FormatGoDuration(absl::Duration d);

}  // namespace rendezvous::app

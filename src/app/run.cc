#include "app/run.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "app/sweeper.h"
#include "app/systemd_notify.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"
#include "common/stats.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/pk_handler.h"
#include "http/public_routes.h"
#include "http/router.h"
#include "http/stats.h"
#include "kv/lmdb_store.h"
#include "kv/memory_store.h"
#include "net/server.h"
#include "ratelimit/limiter.h"

namespace rendezvous::app {
namespace {

// Time given to requests in flight at shutdown before their connections are cut.
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);

// The store's input limits: the key API's, widened for /pk/ records.
size_t StoreKeyBytes(const Config& config) {
  return http::StoreLimitsWithSignedKeys({config.max_key_bytes, config.max_value_bytes})
      .max_key_bytes;
}
size_t StoreValueBytes(const Config& config) {
  return http::StoreLimitsWithSignedKeys({config.max_key_bytes, config.max_value_bytes})
      .max_value_bytes;
}

// The engine: LMDB on the -db file (the store of record), or memory when -db is "". An LMDB
// file that cannot be opened stops the start: never serve empty over existing data.
std::unique_ptr<kv::Store> OpenStore(const Config& config, std::string* error) {
  if (config.db_path.empty()) {
    kv::MemoryStore::Options options;
    options.max_entries = config.max_entries;
    options.limits = {StoreKeyBytes(config), StoreValueBytes(config)};
    options.first_version = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
    return std::make_unique<kv::MemoryStore>(options);
  }
  kv::LmdbStore::Options options;
  options.path = config.db_path;
  options.max_entries = config.max_entries;
  options.max_key_bytes = StoreKeyBytes(config);
  options.max_value_bytes = StoreValueBytes(config);
  options.sync_every_write = config.sync_writes;
  options.sync_interval = config.save;
  return kv::LmdbStore::Open(options, error);
}

net::ServerOptions ServerOptionsFor(const Config& config) {
  net::ServerOptions options;
  options.listen_address = config.listen_ip;
  options.port = config.port;
  options.threads = WorkerThreads(config);
  options.body_limit_bytes = config.max_value_bytes;
  options.wide_body_path_prefix = "/pk/";  // a signed record may be longer
  options.wide_body_limit_bytes = StoreValueBytes(config);
  // Every valid key fits as a target: each byte percent-encoded, plus room for an absolute-form
  // scheme and host, the /ip/ prefix and a query.
  options.max_target_bytes = std::max<size_t>(8192, 3 * config.max_key_bytes + 1024);
  options.proxies.trusted = config.trusted_proxies;
  options.max_connections = config.max_connections;
  options.max_connections_per_client = config.max_connections_per_client;
  options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  return options;
}

http::HandlerOptions HandlerOptionsFor(const Config& config, common::StatsRegistry& stats) {
  http::HandlerOptions options;
  options.stats = &stats;
  options.max_key_bytes = config.max_key_bytes;
  options.max_value_bytes = config.max_value_bytes;
  options.expire = config.expire;
  options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  options.warn_localhost = !config.disable_localhost_warning;
  options.max_keys_per_client = static_cast<uint32_t>(config.max_keys_per_client);
  return options;
}

// Every connection is a file descriptor: lift the soft limit to the hard one, and say so when even
// that cannot hold -maxConnections (plus the store's and listeners' descriptors).
void RaiseFileLimit(size_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  constexpr size_t kReservedDescriptors = 64;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < max_connections + kReservedDescriptors) {
    common::LogWarning("the open-file limit (" + std::to_string(limit.rlim_cur) +
                       ") is below -maxConnections + 64; accepts will fail before the cap");
  }
}

std::string HostPort(const common::IpAddress& address, uint16_t port) {
  if (address.is_v4()) return address.ToString() + ":" + std::to_string(port);
  return "[" + address.ToString() + "]:" + std::to_string(port);
}

// The start-up line that names whose X-Forwarded-For is believed, so that an operator sees at
// once whether a proxy is missing from the list (its clients would all share its address).
std::string TrustedProxiesLine(const std::vector<common::CidrBlock>& trusted) {
  if (trusted.empty()) {
    return "X-Forwarded-For is ignored: no trusted proxies (-trustedProxies \"\")";
  }
  std::string line = "X-Forwarded-For is believed only from the trusted proxies ";
  for (size_t i = 0; i < trusted.size(); ++i) {
    if (i > 0) line += ",";
    line += trusted[i].ToString();
  }
  return line + " (-trustedProxies)";
}

}  // namespace

int Run(const Config& config) {
  // The shutdown signals are blocked in every thread (the workers inherit the mask) and taken by
  // sigwait below, so no code runs in a signal handler.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  RaiseFileLimit(config.max_connections);
  common::SystemClock clock;
  // Every component registers its metrics here at construction and updates them through its
  // handles; declared first so that it outlives every component whose numbers it reads.
  common::StatsRegistry stats;
  std::string error;
  std::unique_ptr<kv::Store> store = OpenStore(config, &error);
  if (!store) {
    common::LogError(error);
    return 1;
  }
  // Read at scrape time; a reader of the registry (an admin listener) stops before the store goes.
  stats.AddCallback(common::MetricType::kGauge, "rendezvous_keys",
                    "Keys in the store (expired ones included until the sweep removes them).",
                    [&store] { return static_cast<double>(store->Size()); });
  ratelimit::Limiter::Options limiter_options;
  limiter_options.capacity_tokens = config.max_requests;
  limiter_options.refill_period = config.reset;
  limiter_options.evictions = &stats.AddCounter(
      "rendezvous_limiter_evictions_total",
      "Rate-limit buckets evicted from the full client table to make room for another client.");
  ratelimit::Limiter limiter(limiter_options);
  http::IndexPageOptions page_options;
  page_options.max_key_bytes = config.max_key_bytes;
  page_options.max_value_bytes = config.max_value_bytes;
  page_options.max_entries = config.max_entries;
  page_options.expire = config.expire;
  page_options.reset = config.reset;
  page_options.max_requests = config.max_requests;
  page_options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  http::IndexPage index_page(page_options);
  http::IndexHandler index_handler(index_page, clock);
  http::Handler key_handler(HandlerOptionsFor(config, stats), *store, limiter, clock);
  http::PkHandlerOptions pk_options;
  pk_options.expire = config.expire;
  pk_options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  pk_options.max_keys_per_client = static_cast<uint32_t>(config.max_keys_per_client);
  http::PkHandler pk_handler(pk_options, *store, limiter, clock);
  http::RequestStats request_stats(stats);
  http::Router router(http::PublicRoutes(index_handler, &pk_handler), key_handler, clock,
                      &request_stats);
  net::Server server(ServerOptionsFor(config), router, clock, &stats);
  if (!server.Start(&error)) {
    common::LogError(error);
    return 1;
  }
  common::LogInfo(TrustedProxiesLine(config.trusted_proxies));
  const std::string listening = "listening on " + HostPort(config.listen_ip, server.port());
  common::LogInfo(listening + " (rendezvous-server " + std::string(common::Version()) + ", " +
                  std::to_string(WorkerThreads(config)) + " threads, store: " +
                  (config.db_path.empty() ? std::string("memory") : config.db_path) + ")");
  Sweeper sweeper(*store, clock, Sweeper::IntervalFor(config.expire));
  // Under systemd (Type=notify), the unit counts as started only now that the sockets accept.
  if (NotifyResult notified = NotifyFromEnvironment("READY=1\nSTATUS=" + listening);
      notified != NotifyResult::kSent && notified != NotifyResult::kNotConfigured) {
    common::LogWarning(
        "could not tell systemd that the server is ready: NOTIFY_SOCKET is " +
        std::string(notified == NotifyResult::kBadSocketName ? "malformed" : "unreachable"));
  }

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  common::LogInfo(std::string("shutting down on ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  (void)NotifyFromEnvironment("STOPPING=1");  // best effort: systemd is stopping us anyway

  if (!server.Shutdown(kShutdownGrace)) {
    common::LogWarning("connections still busy after the grace period were closed");
  }
  sweeper.Stop();
  const kv::Status flushed = store->Flush();
  // The store goes before the server: an engine that completes writes on its own thread may
  // still post completions to the (stopped) workers while it drains.
  store.reset();
  if (flushed != kv::Status::kOk) {
    common::LogError("the final flush of the store failed");
    return 1;
  }
  common::LogInfo("stopped");
  return 0;
}

}  // namespace rendezvous::app

#include "app/run.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "app/process_metrics.h"
#include "app/sweeper.h"
#include "app/systemd_notify.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/version.h"
#include "http/access_log.h"
#include "http/admin_routes.h"
#include "http/handler.h"
#include "http/index_handler.h"
#include "http/index_page.h"
#include "http/list_handler.h"
#include "http/pk_handler.h"
#include "http/public_routes.h"
#include "http/redirect.h"
#include "http/router.h"
#include "http/stats.h"
#include "kv/lmdb_store.h"
#include "kv/memory_store.h"
#include "kv/redis_store.h"
#include "net/server.h"
#include "net/tls_context.h"
#include "ratelimit/limiter.h"
#include "redis/client.h"

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
  if (config.redis) {
    kv::RedisStoreOptions options;
    options.client.endpoint = *config.redis;
    // Requests go through each I/O worker's own connection (attached in Run once the workers
    // exist); one shared connection carries the rest (start-up, sweeps, long-poll wake-ups, a
    // worker whose connection is reconnecting).
    options.client.connections = 1;
    options.max_entries = config.max_entries;
    options.limits = {config.max_key_bytes, config.max_value_bytes};
    options.capacity_tokens = config.max_requests;
    options.sync_writes = config.sync_writes;
    options.refill_period = config.reset;
    return kv::RedisStore::Open(options, error);
  }
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

// The admin listener: its own address, one thread, a small connection cap, the public listener's
// deadlines, and a short store deadline (a /readyz probe that waits longer means "not ready").
// Nobody's X-Forwarded-For is believed: the admin endpoints do not look at the client.
net::ServerOptions AdminServerOptionsFor(const Config& config) {
  net::ServerOptions options;
  options.listen_address = config.admin_ip;
  options.port = config.admin_port;
  options.threads = 1;
  options.body_limit_bytes = 1024;  // the admin endpoints take no body
  options.max_connections = 64;
  options.max_connections_per_client = 64;
  options.store_timeout = absl::Seconds(2);
  options.proxies.trusted.clear();
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
  options.max_wait = config.max_wait;
  options.max_waiters = config.max_waiters;
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

// What SIGHUP does: each action reloads one thing (the TLS certificate; an access log reopen may
// join) and logs its own outcome. They run on the main thread, one after the other.
using ReloadActions = std::vector<std::function<void()>>;

}  // namespace

int Run(const Config& config) {
  // The signals are blocked in every thread (the workers inherit the mask) and taken by sigwait
  // below, so no code runs in a signal handler. SIGHUP reloads; SIGINT and SIGTERM stop.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  RaiseFileLimit(config.max_connections);
  common::SystemClock clock;
  // Every component registers its metrics here at construction and updates them through its
  // handles; declared first so that it outlives every component whose numbers it reads.
  common::StatsRegistry stats;
  std::string error;
  ReloadActions reload_actions;
  // Declared before the store: a store's thread may still complete requests (and so write their
  // lines) while it drains.
  std::unique_ptr<http::AccessLog> access_log;
  if (!config.access_log_path.empty()) {
    access_log = http::AccessLog::Open(config.access_log_path, &error);
    if (!access_log) {
      common::LogError(error);
      return 1;
    }
    // logrotate renamed the file: new lines go to a new one at the configured path.
    reload_actions.push_back([&log = *access_log, &path = config.access_log_path] {
      std::string reopen_error;
      if (log.Reopen(&reopen_error)) {
        common::LogInfo("reopened the access log " + path);
      } else {
        common::LogError(reopen_error);
      }
    });
  }
  // The certificate first: a file that does not load stops the start before the store opens.
  std::unique_ptr<net::TlsContexts> tls_contexts;
  if (config.tls()) {
    tls_contexts = std::make_unique<net::TlsContexts>(config.tls_cert, config.tls_key);
    if (!tls_contexts->Load(&error)) {
      common::LogError(error);
      return 1;
    }
    reload_actions.push_back([&contexts = *tls_contexts] {
      std::string reload_error;
      if (contexts.Reload(&reload_error)) {
        common::LogInfo("reloaded the TLS certificate and key; new connections use them");
      } else {
        common::LogError("TLS reload refused, the previous certificate stays: " + reload_error);
      }
    });
  }
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
  page_options.max_wait = config.max_wait;
  page_options.reset = config.reset;
  page_options.max_requests = config.max_requests;
  page_options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  page_options.max_keys_per_client = config.max_keys_per_client;
  http::IndexPage index_page(page_options);
  http::IndexHandler index_handler(index_page, clock);
  http::Handler key_handler(HandlerOptionsFor(config, stats), *store, limiter, clock);
  http::PkHandlerOptions pk_options;
  pk_options.expire = config.expire;
  pk_options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  pk_options.max_keys_per_client = static_cast<uint32_t>(config.max_keys_per_client);
  http::PkHandler pk_handler(pk_options, *store, limiter, clock);
  http::ListHandlerOptions list_options;
  list_options.max_key_bytes = config.max_key_bytes;
  list_options.ipv6_prefix_bits = config.ipv6_prefix_bits;
  list_options.max_wait = config.max_wait;
  // Listing waits share the key API's registry: one -maxWaiters budget, one change listener.
  http::ListHandler list_handler(list_options, *store, limiter, clock, key_handler.waiters());
  http::RequestStats request_stats(stats);
  http::Router router(http::PublicRoutes(index_handler, &pk_handler, &list_handler), key_handler,
                      clock, &request_stats, access_log.get());
  RegisterProcessMetrics(stats, *store);
  net::TlsListener tls_listener;
  http::RedirectHandler redirect(config.tls_port);
  if (config.tls()) {
    tls_listener.contexts = tls_contexts.get();
    tls_listener.port = config.tls_port;
    if (config.redirect_http) tls_listener.plain_handler = &redirect;
  }
  net::Server server(ServerOptionsFor(config), router, clock, &stats, tls_listener);
  if (!server.Start(&error)) {
    common::LogError(error);
    return 1;
  }
  redirect.set_tls_port(server.tls_port());  // the kernel's choice when -tlsPort is 0
  // On Redis, each worker gets a connection of its own on its io_context: a request's commands are
  // written and their replies read on its worker's thread, with no hand-off to another thread.
  // They must be closed while the workers' io_contexts exist and no thread runs them: on every
  // return, the server has stopped its threads by then and is destroyed after this guard.
  redis::Client* redis_client = nullptr;
  if (auto* redis_store = dynamic_cast<kv::RedisStore*>(store.get())) {
    redis_client = &redis_store->client();
    redis_client->AttachWorkers(server.worker_io_contexts());
  }
  absl::Cleanup detach_redis_workers = [&store, redis_client] {
    if (store != nullptr && redis_client != nullptr) redis_client->DetachWorkers();
  };
  // The admin listener answers from the same registry with a Router of its own, without
  // RequestStats (scrapes are not API requests); it starts after the public one, so that a
  // /readyz that answers 200 means the public port accepts.
  http::AdminRoutes admin_routes(stats, *store, clock);
  http::Router admin_router(admin_routes.Routes(), admin_routes.NotFound(), clock, nullptr);
  std::unique_ptr<net::Server> admin_server;
  if (config.has_admin_listener) {
    admin_server =
        std::make_unique<net::Server>(AdminServerOptionsFor(config), admin_router, clock);
    if (!admin_server->Start(&error)) {
      common::LogError(error + " (-adminListen)");
      server.Shutdown(absl::ZeroDuration());
      return 1;
    }
  }
  common::LogInfo(TrustedProxiesLine(config.trusted_proxies));
  const std::string listening = "listening on " + HostPort(config.listen_ip, server.port());
  common::LogInfo(listening + " (rendezvous-server " + std::string(common::Version()) + ", " +
                  std::to_string(WorkerThreads(config)) + " threads, store: " +
                  StoreDescription(config) + ")");
  if (config.tls()) {
    common::LogInfo("listening for TLS on " + HostPort(config.listen_ip, server.tls_port()) +
                    (config.redirect_http ? " (plain HTTP requests are redirected to it)" : ""));
  }
  if (admin_server) {
    common::LogInfo("admin listener on " + HostPort(config.admin_ip, admin_server->port()) +
                    " (/metrics, /healthz, /readyz)");
  }
  Sweeper sweeper(*store, clock, Sweeper::IntervalFor(config.expire));
  // Under systemd (Type=notify), the unit counts as started only now that the sockets accept.
  if (NotifyResult notified = NotifyFromEnvironment("READY=1\nSTATUS=" + listening);
      notified != NotifyResult::kSent && notified != NotifyResult::kNotConfigured) {
    common::LogWarning(
        "could not tell systemd that the server is ready: NOTIFY_SOCKET is " +
        std::string(notified == NotifyResult::kBadSocketName ? "malformed" : "unreachable"));
  }

  int signal_number = 0;
  while (true) {
    sigwait(&handled_signals, &signal_number);
    if (signal_number != SIGHUP) break;
    if (reload_actions.empty()) common::LogInfo("SIGHUP: nothing to reload");
    for (const auto& action : reload_actions) action();
  }
  common::LogInfo(std::string("shutting down on ") +
                  (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  (void)NotifyFromEnvironment("STOPPING=1");  // best effort: systemd is stopping us anyway
  // Before the grace period: a load balancer sees /readyz fail and sends no new requests while
  // the ones in flight finish.
  admin_routes.SetShuttingDown();

  // Long polls are answered now (304/404 as at the end of their wait), not held for the grace.
  if (key_handler.waiters() != nullptr) key_handler.waiters()->CloseAll();
  // The workers' Redis connections close once their commands completed (later requests use the
  // shared connection), so that the workers run out of work when their sessions are done.
  if (redis_client != nullptr) redis_client->DrainWorkers();
  if (!server.Shutdown(kShutdownGrace)) {
    common::LogWarning("connections still busy after the grace period were closed");
  }
  // After the public listener (its grace period shows "shutting down" on /readyz), before the
  // store (a /readyz probe reads it).
  if (admin_server && !admin_server->Shutdown(absl::Seconds(1))) {
    common::LogWarning("admin connections still busy after a second were closed");
  }
  // The waiter registry's waker reads the store for the waiters CloseAll fired (keys and
  // listings): it must be done before the store goes.
  if (key_handler.waiters() != nullptr) key_handler.waiters()->StopWaker();
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

// AdminRoutes: what the admin listener (-adminListen) serves, as a route table for its own
// Router (router.h): GET/HEAD /metrics (the StatsRegistry as Prometheus text, format 0.0.4),
// /healthz (200 while the process runs) and /readyz (200 while serving and the store answers;
// 503 once shutdown began or while the store fails or does not answer). Every other path is 404
// with a short body (the fallback, NotFound()); other methods on the three paths are 405.
//
// The admin Router is built with no RequestStats, so scrapes are not counted as API requests,
// and it has no rate limit: the listener is meant for a private address (a scraper, a load
// balancer's health check), and its connection cap bounds what a caller can take.
//
// /readyz probes the store with a Get of kReadinessProbeKey (a read: it changes nothing, and
// "not found" counts as answered). A probe result is reused for kReadinessCacheTime, and only one
// probe is in flight at a time (callers meanwhile get the last result), so a tight loop of health
// checks costs the store at most one read per second. A store that never answers is cut off by
// the admin listener's store deadline (503 from net/), and while a probe is older than
// kReadinessProbeTimeout, /readyz answers 503 without asking again.
//
// Thread-safety: Handle may run concurrently on the admin listener's threads; SetShuttingDown
// from any thread (the signal-waiting main thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/stats.h"
#include "http/route_handler.h"
#include "http/router.h"
#include "kv/store.h"

namespace rendezvous::http {

// A key only the readiness probe reads (never written by the server).
inline constexpr std::string_view kReadinessProbeKey = "rendezvous-readiness-probe";
inline constexpr absl::Duration kReadinessCacheTime = absl::Seconds(1);
// A probe still unanswered after this makes /readyz answer 503 (the store is hung).
inline constexpr absl::Duration kReadinessProbeTimeout = absl::Seconds(2);

class AdminRoutes {
 public:
  // `stats`, `store` and `clock` must outlive this object and every Router built from Routes().
  AdminRoutes(const common::StatsRegistry& stats, kv::Store& store, const common::Clock& clock);
  AdminRoutes(const AdminRoutes&) = delete;
  AdminRoutes& operator=(const AdminRoutes&) = delete;

  // The exact paths /metrics, /healthz, /readyz with their handlers.
  std::vector<Route> Routes();
  // The admin Router's fallback: 404 "Not Found\n".
  RouteHandler& NotFound() { return not_found_; }

  // From now on /readyz answers 503: a load balancer stops sending new requests while the ones
  // in flight finish during the shutdown grace period.
  void SetShuttingDown() { shutting_down_.store(true, std::memory_order_relaxed); }

 private:
  class MetricsHandler final : public RouteHandler {
   public:
    explicit MetricsHandler(const common::StatsRegistry& stats) : stats_(stats) {}
    void Handle(const Request& request, std::string_view path, Response& response,
                Done done) override;

   private:
    const common::StatsRegistry& stats_;
  };
  class HealthHandler final : public RouteHandler {
   public:
    void Handle(const Request& request, std::string_view path, Response& response,
                Done done) override;
  };
  class ReadyHandler final : public RouteHandler {
   public:
    explicit ReadyHandler(AdminRoutes& owner) : owner_(owner) {}
    void Handle(const Request& request, std::string_view path, Response& response,
                Done done) override;

   private:
    AdminRoutes& owner_;
  };
  class NotFoundHandler final : public RouteHandler {
   public:
    void Handle(const Request& request, std::string_view path, Response& response,
                Done done) override;
  };

  // Records a probe's outcome and ends the probe in flight.
  void ProbeAnswered(bool store_ok);

  kv::Store& store_;
  const common::Clock& clock_;
  std::atomic<bool> shutting_down_{false};
  std::mutex mutex_;
  bool probe_in_flight_ = false;  // guarded by mutex_
  bool probed_ = false;           // guarded by mutex_: a probe has answered at least once
  bool store_ok_ = false;         // guarded by mutex_: the last probe's outcome
  int64_t probed_at_nanos_ = 0;
  int64_t probe_started_nanos_ = 0;  // guarded by mutex_: when the probe in flight began   //
                                     // guarded by mutex_: Clock::MonotonicNanos() of that answer
  MetricsHandler metrics_;
  HealthHandler health_;
  ReadyHandler ready_;
  NotFoundHandler not_found_;
};

}  // namespace rendezvous::http

// AdminRoutes: /metrics, /healthz, /readyz and the admin listener's 404.
#include "http/admin_routes.h"

#include <string>
#include <utility>

#include "common/prometheus_text.h"
#include "http/errors.h"

namespace rendezvous::http {
namespace {

constexpr std::string_view kAdminMethods = "GET, HEAD";

// GET and HEAD pass; anything else is answered 405 here (returns false).
bool AllowReadOnly(const Request& request, Response& response) {
  if (request.method == Method::kGet || request.method == Method::kHead) return true;
  response.extra_headers.append("Allow: ").append(kAdminMethods).append("\r\n");
  SetError(Error::kMethodNotAllowed, response);
  return false;
}

void SetText(int status, std::string_view body, Response& response) {
  response.status = status;
  response.content_type = ContentType::kTextPlain;
  response.body.assign(body);
  // A health answer is about this moment: a cache in between must not replay it.
  response.extra_headers.append("Cache-Control: no-store\r\n");
}

}  // namespace

AdminRoutes::AdminRoutes(const common::StatsRegistry& stats, kv::Store& store,
                         const common::Clock& clock)
    : store_(store), clock_(clock), metrics_(stats), ready_(*this) {}

std::vector<Route> AdminRoutes::Routes() {
  return {
      {Route::Match::kExact, "/metrics", &metrics_},
      {Route::Match::kExact, "/healthz", &health_},
      {Route::Match::kExact, "/readyz", &ready_},
  };
}

void AdminRoutes::MetricsHandler::Handle(const Request& request, std::string_view /*path*/,
                                         Response& response, Done done) {
  if (AllowReadOnly(request, response)) {
    response.status = 200;
    // The Content-Type names the format version, which ContentType has no value for.
    response.extra_headers.append("Content-Type: ")
        .append(common::kPrometheusTextContentType)
        .append("\r\n");
    common::AppendPrometheusText(stats_.Collect(), response.body);
  }
  done();
}

void AdminRoutes::HealthHandler::Handle(const Request& request, std::string_view /*path*/,
                                        Response& response, Done done) {
  if (AllowReadOnly(request, response)) SetText(200, "ok\n", response);
  done();
}

void AdminRoutes::NotFoundHandler::Handle(const Request& /*request*/, std::string_view /*path*/,
                                          Response& response, Done done) {
  SetText(404, "Not Found\n", response);
  done();
}

void AdminRoutes::ReadyHandler::Handle(const Request& request, std::string_view /*path*/,
                                       Response& response, Done done) {
  if (!AllowReadOnly(request, response)) return done();
  AdminRoutes& owner = owner_;
  if (owner.shutting_down_.load(std::memory_order_relaxed)) {
    SetText(503, "shutting down\n", response);
    return done();
  }
  const int64_t now_nanos = owner.clock_.MonotonicNanos();
  {
    std::lock_guard lock(owner.mutex_);
    const bool fresh = owner.probed_ && now_nanos - owner.probed_at_nanos_ <
                                            absl::ToInt64Nanoseconds(kReadinessCacheTime);
    if (owner.probe_in_flight_ &&
        now_nanos - owner.probe_started_nanos_ > absl::ToInt64Nanoseconds(kReadinessProbeTimeout)) {
      SetText(503, "store not answering\n", response);
      return done();
    }
    // While another probe runs, its predecessor's result answers (no pile-up on a slow store).
    if (fresh || (owner.probe_in_flight_ && owner.probed_)) {
      SetText(owner.store_ok_ ? 200 : 503, owner.store_ok_ ? "ready\n" : "store unavailable\n",
              response);
      return done();
    }
    owner.probe_in_flight_ = true;
    owner.probe_started_nanos_ = now_nanos;
  }
  owner.store_.Get(
      kReadinessProbeKey, owner.clock_.Now(),
      [&owner, &response, done = std::move(done)](const kv::GetResult& result) mutable {
        const bool ok = result.status != kv::Status::kUnavailable;
        owner.ProbeAnswered(ok);
        SetText(ok ? 200 : 503, ok ? "ready\n" : "store unavailable\n", response);
        done();
      });
}

void AdminRoutes::ProbeAnswered(bool store_ok) {
  std::lock_guard lock(mutex_);
  probe_in_flight_ = false;
  probed_ = true;
  store_ok_ = store_ok;
  probed_at_nanos_ = clock_.MonotonicNanos();
}

}  // namespace rendezvous::http

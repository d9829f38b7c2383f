// Router: the checks every route shares, the route table walk, and the request counts.
#include "http/router.h"

#include <utility>

#include "http/errors.h"
#include "http/key_headers.h"
#include "http/target.h"

namespace rendezvous::http {

Router::Router(std::vector<Route> routes, RouteHandler& fallback, const common::Clock& clock,
               RequestStats* stats, AccessLog* access_log)
    : routes_(std::move(routes)),
      fallback_(fallback),
      clock_(clock),
      stats_(stats),
      access_log_(access_log) {}

RouteHandler& Router::HandlerFor(std::string_view path) const {
  for (const Route& route : routes_) {
    const bool matches =
        route.match == Route::Match::kExact ? path == route.path : path.starts_with(route.path);
    if (matches) return route.handler != nullptr ? *route.handler : fallback_;
  }
  return fallback_;
}

void Router::Handle(const Request& request, Response& response, Done done) {
  response.Reset();
  response.head = request.method == Method::kHead;
  // net/ stopped reading the body at the limit: the rest of it is still in flight, so the
  // connection cannot carry another request whatever the answer is.
  if (request.body_too_large) response.close = true;

  if (stats_ != nullptr || access_log_ != nullptr) {
    if (access_log_ != nullptr) {
      const std::string_view target = request.target;
      response.in_flight.log_path.assign(target.substr(0, target.find('?')));
      response.in_flight.log_client = request.client;
    }
    response.in_flight.method = request.method;
    response.in_flight.store_answered_nanos = 0;
    response.in_flight.started_nanos =
        request.received_nanos != 0 ? request.received_nanos : clock_.MonotonicNanos();
    response.in_flight.routed_done = std::move(done);
    done = [this, &response] { Complete(response); };
  }

  const ParsedTarget target = ParseTarget(request.target);
  if (target.is_asterisk && request.method == Method::kOptions) {
    // "OPTIONS *" asks what the server supports (RFC 9110 9.3.7): every method some path takes.
    response.status = 204;
    response.extra_headers.append("Allow: ").append(kKeyMethods).append("\r\n");
    return done();
  }
  std::optional<Error> error = target.error;
  if (!error && request.version >= 11 && request.host.empty()) error = Error::kMissingHost;
  if (error) {
    SetError(*error, response);
    return done();
  }
  HandlerFor(target.path).Handle(request, target.path, response, std::move(done));
}

void Router::Complete(Response& response) {
  const int64_t answered_nanos = response.in_flight.store_answered_nanos != 0
                                     ? response.in_flight.store_answered_nanos
                                     : clock_.MonotonicNanos();
  const int64_t duration_nanos = answered_nanos - response.in_flight.started_nanos;
  if (stats_ != nullptr) stats_->Record(response.in_flight.method, response.status, duration_nanos);
  if (access_log_ != nullptr) {
    AccessRecord record;
    record.time = clock_.Now();
    record.client = &response.in_flight.log_client;
    record.method = response.in_flight.method;
    record.path = response.in_flight.log_path;
    record.status = response.status;
    record.body_bytes = response.head ? 0 : response.body.size();
    record.duration_nanos = duration_nanos;
    access_log_->Record(record);
  }
  // Moved out first: the call may hand the Response to another request.
  Done done = std::move(response.in_flight.routed_done);
  done();
}

}  // namespace rendezvous::http

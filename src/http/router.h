// Router: the one place that decides which handler answers a request, for one listener.
//
// A Router is a RequestHandler (what net/ calls) built from an ordered list of routes, each an
// exact path or a path prefix with its RouteHandler, and a fallback for paths no route matches.
// For the public listener (public_routes.h) the fallback is the key API, so every path that is
// not claimed by a route is a key; a second listener (admin) builds its own Router with its own
// routes and fallback.
//
// For every route, first: the target must parse (else 400; see target.h), then an HTTP/1.1
// request must carry a non-empty Host (else 400, "missing required Host header"). Only then is
// the route chosen: the first route whose path matches the target's raw path (percent-encoded,
// query cut off; "/%2F" is not "/"). A route with no handler is reserved: its paths are still
// served by the fallback until the feature that claims them lands.
//
// With a RequestStats, the Router counts every answer by method and status and observes its
// duration (from request.received_nanos, or from Handle when net/ gave no time, to the
// completion), including the answers it gives itself. It does so
// by handing the route a completion that captures only itself and the Response (which fits
// absl::AnyInvocable's inline storage: no allocation); the caller's completion waits in
// response.in_flight.routed_done. Registering a second RequestStats in the same registry shares
// its series, so an admin listener's Router takes none: scrapes are not API requests.
//
// With an AccessLog, the Router also writes one line per answer there (access_log.h), from the
// same completion; without one, that costs a null check.
//
// Thread-safety: immutable after construction; Handle is called concurrently from every thread.
#pragma once

#include <string_view>
#include <vector>

#include "common/clock.h"
#include "http/access_log.h"
#include "http/request.h"
#include "http/request_handler.h"
#include "http/response.h"
#include "http/route_handler.h"
#include "http/stats.h"

namespace rendezvous::http {

struct Route {
  enum class Match : uint8_t {
    kExact,   // the path equals `path`
    kPrefix,  // the path starts with `path`
  };
  Match match = Match::kExact;
  std::string_view path;  // raw form, starts with '/'; must outlive the Router (a literal)
  // Null: reserved, not served yet (the fallback answers). Must outlive the Router.
  RouteHandler* handler = nullptr;
};

class Router final : public RequestHandler {
 public:
  // `fallback`, `clock`, `stats` and `access_log` must outlive the Router. `stats` may be null
  // (nothing is counted), and so may `access_log` (no lines); with both null the caller's
  // completion is passed on as it is.
  Router(std::vector<Route> routes, RouteHandler& fallback, const common::Clock& clock,
         RequestStats* stats, AccessLog* access_log = nullptr);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void Handle(const Request& request, Response& response, Done done) override;

  // The handler that answers `path` (a raw path, as ParseTarget gives it): for tests, and for
  // reading the table.
  RouteHandler& HandlerFor(std::string_view path) const;

 private:
  // Counts the answer in response and runs the caller's completion.
  void Complete(Response& response);

  const std::vector<Route> routes_;
  RouteHandler& fallback_;
  const common::Clock& clock_;
  RequestStats* const stats_;
  AccessLog* const access_log_;
};

}  // namespace rendezvous::http

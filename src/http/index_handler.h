// IndexHandler: the routes for "/" — the index page (GET, HEAD), its CORS preflight (OPTIONS) and
// 405 for every other method — and for "/favicon.ico", which a browser asks for by itself: 204
// with a day of caching (the page carries its own icon as a data: URL), rather than a 404 from
// the key API that costs the visitor a token. Free: the page costs no rate-limit token, so a
// browser can always read the documentation (index_page.h bounds what a flood of it can cost).
//
// Thread-safety: stateless beyond the IndexPage, which is thread-safe.
#pragma once

#include <string_view>

#include "common/clock.h"
#include "http/index_page.h"
#include "http/route_handler.h"

namespace rendezvous::http {

inline constexpr std::string_view kFaviconPath = "/favicon.ico";

class IndexHandler final : public RouteHandler {
 public:
  // Both references must outlive the handler.
  IndexHandler(const IndexPage& page, const common::Clock& clock) : page_(page), clock_(clock) {}

  void Handle(const Request& request, std::string_view path, Response& response,
              Done done) override;

 private:
  const IndexPage& page_;
  const common::Clock& clock_;
};

}  // namespace rendezvous::http

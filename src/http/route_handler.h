// RouteHandler: what answers the requests of one route of a Router (router.h): the index page, the
// key API, and later the other public paths and an admin listener's endpoints.
//
// The Router has already run the checks every route shares (the target parses, an HTTP/1.1
// request has a Host), Reset() `response` and set response.head (HEAD) and response.close (a
// body cut off at the size limit). The handler fills the rest of `response` and calls `done`
// exactly once, with the same rules as RequestHandler (request_handler.h): inline or later from
// a store's thread; `request` and `path` are read only until Handle returns or `done` runs,
// whichever comes first; `response` stays valid until `done` runs.
//
// Thread-safety: implementations are called concurrently from every I/O thread.
#pragma once

#include <string_view>

#include "http/request.h"
#include "http/response.h"

namespace rendezvous::http {

class RouteHandler {
 public:
  virtual ~RouteHandler() = default;
  // `path`: the target's path as sent (starts with '/', still percent-encoded, query cut off), a
  // view into request.target.
  virtual void Handle(const Request& request, std::string_view path, Response& response,
                      Done done) = 0;
};

}  // namespace rendezvous::http

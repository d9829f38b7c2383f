// RequestHandler: what a listener calls for every parsed request. The seam between net/ (sockets,
// parsing, deadlines) and whatever answers requests: the public API's router, or another
// listener's handler (an admin listener). net/ holds only this interface, never a concrete
// handler.
//
// Contract (every implementation): Handle first Reset()s `response` and answers `request` into
// it; `done` is called exactly once, after `response` is complete, inline (before Handle returns)
// or later from another thread (a store's). `request` and what its views point to are read only
// until Handle returns or `done` runs, whichever comes first; `response` must stay valid until
// `done` runs. When `done` runs inside a store callback the store may hold an internal lock, so
// `done` must be short and must not call back into the handler or the store synchronously.
//
// Thread-safety: implementations are called concurrently from every I/O thread.
#pragma once

#include "http/request.h"
#include "http/response.h"

namespace rendezvous::http {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void Handle(const Request& request, Response& response, Done done) = 0;
};

}  // namespace rendezvous::http

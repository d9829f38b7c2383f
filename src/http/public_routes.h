// The public listener's route table: the one place where a public path that is not a key is added.
//
// Thread-safety: a pure function.
#pragma once

#include <vector>

#include "http/route_handler.h"
#include "http/router.h"

namespace rendezvous::http {

// The routes of the public API, tried in order; a path that matches none is a key, answered by
// the Router's fallback (the key API's Handler). `index_page` must outlive the Router built from
// them.
// `signed_keys` (the /pk/ PkHandler) and `listing` (the /ip/*/ ListHandler) likewise; null leaves
// their paths to the key API (tools that exercise the key API alone).
std::vector<Route> PublicRoutes(RouteHandler& index_page, RouteHandler* signed_keys = nullptr,
                                RouteHandler* listing = nullptr);

}  // namespace rendezvous::http

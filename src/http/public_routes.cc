#include "http/public_routes.h"

#include "http/index_handler.h"

namespace rendezvous::http {

std::vector<Route> PublicRoutes(RouteHandler& index_page, RouteHandler* signed_keys,
                                RouteHandler* listing) {
  // A new public path goes here, before any prefix that would contain it. Paths are matched as
  // sent (percent-encoded, query cut off), before the key is decoded.
  //
  // Reserved rows have no handler yet: their paths stay keys, as they have always been, until
  // the feature lands and the row gets its handler. Naming them here keeps the key API from
  // growing a meaning for them in the meantime.
  return {
      // The documentation page. Only the raw "/" ("/%2F" is the key "/").
      {Route::Match::kExact, "/", &index_page},
      // What browsers fetch by themselves: answered by the page's handler, free, so the key
      // "favicon.ico" is reachable only as "/%66avicon.ico".
      {Route::Match::kExact, kFaviconPath, &index_page},
      // GET /ip/*/NAME lists who announced NAME (the live keys ip/<address>/NAME). No write can
      // create a key "ip/*/...": writes under ip/ go to the writer's own address.
      {Route::Match::kPrefix, "/ip/*/", listing},
      // /pk/<public key>: signed records (pkarr relays). Plain keys "pk/..." cannot be written.
      {Route::Match::kPrefix, "/pk/", signed_keys},
  };
}

}  // namespace rendezvous::http

#include "http/index_handler.h"

#include "http/errors.h"
#include "http/key_headers.h"
#include "http/public_origin.h"

namespace rendezvous::http {
namespace {

// A day: the answer never changes, and a browser asks for the icon on every new page otherwise.
constexpr std::string_view kFaviconHeaders = "Cache-Control: public, max-age=86400\r\n";

}  // namespace

void IndexHandler::Handle(const Request& request, std::string_view path, Response& response,
                          Done done) {
  const bool favicon = path == kFaviconPath;
  switch (request.method) {
    case Method::kGet:
    case Method::kHead:
      if (favicon) {
        response.status = 204;
        response.extra_headers.append(kFaviconHeaders);
        break;
      }
      {
        const PublicOrigin origin = ResolvePublicOrigin(request);
        page_.Render(origin.host, origin.https, IndexPage::AcceptsGzip(request.accept_encoding),
                     request.method == Method::kHead, clock_.Now(), response);
      }
      break;
    case Method::kOptions:
      response.status = 204;
      AppendPreflightHeaders(kIndexMethods, response.extra_headers);
      break;
    default:
      response.extra_headers.append("Allow: ").append(kIndexMethods).append("\r\n");
      SetError(Error::kMethodNotAllowed, response);
      break;
  }
  done();
}

}  // namespace rendezvous::http

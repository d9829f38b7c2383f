#include "http/index_handler.h"

#include "http/errors.h"
#include "http/key_headers.h"

namespace rendezvous::http {

void IndexHandler::Handle(const Request& request, std::string_view path, Response& response,
                          Done done) {
  switch (request.method) {
    case Method::kGet:
    case Method::kHead:
      page_.Render(request.host, IndexPage::AcceptsGzip(request.accept_encoding),
                   request.method == Method::kHead, clock_.Now(), response);
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

// The request path for keys and the index page (order of checks: docs/compatibility.md).
#include "http/handler.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "http/errors.h"
#include "http/index_page.h"
#include "http/target.h"

namespace rendezvous::http {
namespace {

constexpr int64_t kPostCostTokens = 3;
constexpr int64_t kOtherCostTokens = 1;
// POSTs to keys under this prefix are stored under "ip/<client address>/<rest>".
constexpr std::string_view kIpPrefix = "ip/";

void Fail(Error error, Response& response, Done& done) {
  SetError(error, response);
  done();
}

// Retry-After in whole seconds, rounded up (a client that waits that long passes), at least 1.
int64_t RetryAfterSeconds(absl::Duration wait) {
  return std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))));
}

}  // namespace

Handler::Handler(const HandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
                 const common::Clock& clock, const IndexPage& index_page)
    : options_(options),
      store_(store),
      limiter_(limiter),
      clock_(clock),
      index_page_(index_page),
      localhost_warning_(absl::Minutes(1)) {}

void Handler::Handle(const Request& request, Response& response, Done done) {
  response.Reset();
  response.head = request.method == Method::kHead;
  // net/ stopped reading the body at the limit: the rest of it is still in flight, so the
  // connection cannot carry another request whatever the answer is.
  if (request.body_too_large) response.close = true;

  const ParsedTarget target = ParseTarget(request.target);
  if (target.error) return Fail(*target.error, response, done);
  if (request.version >= 11 && request.host.empty()) {
    return Fail(Error::kMissingHost, response, done);
  }
  if (target.is_index_page()) return HandleIndexPage(request, response, std::move(done));

  // Key checks cost no token: a client cannot burn its own budget with a malformed key, and
  // the server does no store work for one.
  std::string& key = response.key_buffer;
  if (std::optional<Error> error = DecodeKey(target.path, key)) {
    return Fail(*error, response, done);
  }
  if (key.empty()) return Fail(Error::kKeyRequired, response, done);
  if (key.size() > options_.max_key_bytes) return Fail(Error::kKeyTooLong, response, done);
  const bool is_post = request.method == Method::kPost;
  const bool ip_key = is_post && key.starts_with(kIpPrefix);
  if (ip_key) {
    if (key.size() == kIpPrefix.size()) return Fail(Error::kIpNameRequired, response, done);
    // The reply is the address as the server sees it; the key gets it as its second segment.
    // The final key must fit too, so that every key a POST creates can be read back.
    response.body = request.client.ToString();
    key.insert(kIpPrefix.size(), response.body);
    key.insert(kIpPrefix.size() + response.body.size(), 1, '/');
    if (key.size() > options_.max_key_bytes) return Fail(Error::kKeyTooLong, response, done);
  }

  const absl::Time now = clock_.Now();
  MaybeWarnLocalhost(request, now);
  const ratelimit::Decision decision =
      limiter_.Take(ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits),
                    is_post ? kPostCostTokens : kOtherCostTokens, now);
  if (!decision.allowed) {
    absl::StrAppend(&response.extra_headers,
                    "Retry-After: ", RetryAfterSeconds(decision.retry_after), "\r\n");
    return Fail(Error::kRateLimited, response, done);
  }

  switch (request.method) {
    case Method::kGet:
    case Method::kHead:
      return HandleGet(key, now, response, std::move(done));
    case Method::kPost:
      return HandlePost(request, ip_key, now, response, std::move(done));
    default:
      // Method names are case-sensitive: "post" lands here too. The token is already taken.
      response.extra_headers.append("Allow: GET, HEAD, POST\r\n");
      return Fail(Error::kMethodNotAllowed, response, done);
  }
}

void Handler::HandleIndexPage(const Request& request, Response& response, Done done) {
  if (request.method != Method::kGet && request.method != Method::kHead) {
    response.extra_headers.append("Allow: GET, HEAD\r\n");
    return Fail(Error::kMethodNotAllowed, response, done);
  }
  index_page_.Render(request.host, IndexPage::AcceptsGzip(request.accept_encoding),
                     request.method == Method::kHead, clock_.Now(), response);
  done();
}

void Handler::HandleGet(const std::string& key, absl::Time now, Response& response, Done done) {
  // HEAD fills the body too: AppendResponse needs its length and leaves it out.
  store_.Get(key, now, [&response, done = std::move(done)](const kv::GetResult& result) mutable {
    if (result.status == kv::Status::kOk) {
      response.status = 200;
      response.content_type = ContentType::kOctetStream;
      response.body.assign(result.entry.value.data(), result.entry.value.size());
    } else {
      SetError(ErrorFor(result.status), response);
    }
    done();
  });
}

void Handler::HandlePost(const Request& request, bool ip_key, absl::Time now, Response& response,
                         Done done) {
  // The original's rule: with a secret, the secret counts against the value limit and the
  // message says so; a body cut off at the limit is over it either way.
  const std::string_view secret = request.owner_secret;  // empty: none (BEHAVIOR #19)
  const size_t limit = options_.max_value_bytes;
  if (!secret.empty()) {
    if (request.body_too_large || secret.size() > limit ||
        request.body.size() > limit - secret.size()) {
      return Fail(Error::kValuePlusSecretTooLarge, response, done);
    }
  } else if (request.body_too_large || request.body.size() > limit) {
    return Fail(Error::kValueTooLarge, response, done);
  }

  // Prepared before the store call: after it, `request` may be gone (the callback can run on
  // another thread after the connection moved on) and the callback only has `response`.
  if (!ip_key) response.body.assign("OK");  // ip/ keys answer the address, already in the body
  response.status = 200;
  response.content_type = ContentType::kTextPlain;

  kv::PutRequest put;
  put.key = response.key_buffer;
  put.value = request.body;
  put.secret = secret;
  put.now = now;
  put.expires_at = now + options_.expire;
  store_.Put(put, [&response, done = std::move(done)](const kv::WriteResult& result) mutable {
    if (result.status != kv::Status::kOk) SetError(ErrorFor(result.status), response);
    done();
  });
}

void Handler::MaybeWarnLocalhost(const Request& request, absl::Time now) {
  if (!options_.warn_localhost || !request.client_is_loopback_direct) return;
  if (!localhost_warning_.ShouldLog(now)) return;
  const int64_t suppressed = localhost_warning_.TakeSuppressedCount();
  common::LogWarning(absl::StrCat(
      "request from localhost without X-Forwarded-For (is a reverse proxy not sending it?): ",
      common::EscapeForLog(request.method_text), " ", common::EscapeForLog(request.target),
      suppressed > 0 ? absl::StrCat(" (", suppressed, " more since the last warning)") : "",
      "; at most one such warning a minute; -disableLocalIPWaring turns it off"));
}

}  // namespace rendezvous::http

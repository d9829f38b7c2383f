// The key API's checks that cost no store work (order of checks: docs/compatibility.md and the
// README's "HTTP semantics").
#include "http/handler.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "http/key_headers.h"
#include "http/request_cost.h"
#include "http/target.h"
#include "http/ttl.h"
#include "http/wait.h"

namespace rendezvous::http {
namespace {

// Writes to keys under this prefix are stored under "ip/<client address>/<rest>".
constexpr std::string_view kIpPrefix = "ip/";

bool IsWrite(Method method) { return method == Method::kPost || method == Method::kPut; }

}  // namespace

Handler::IpKeyKind Handler::ClassifyIpKey(std::string_view key, Method method) {
  if (!key.starts_with(kIpPrefix)) return IpKeyKind::kNone;
  if (IsWrite(method)) return IpKeyKind::kOwn;  // every write goes to the writer's own key
  if (method != Method::kGet && method != Method::kHead && method != Method::kDelete) {
    return IpKeyKind::kNone;
  }
  const std::string_view rest = key.substr(kIpPrefix.size());
  if (rest.empty()) return IpKeyKind::kOwnAddress;
  // "ip/<address>/NAME" names someone's key only when the second segment is an address in the
  // strict form a write puts there (IpAddress::ToString round-trips through Parse); anything else
  // ("ip/svc", "ip/a/b", "ip/127.0.0.01/x") is a NAME of the client's own.
  const size_t slash = rest.find('/');
  if (slash != std::string_view::npos && common::IpAddress::Parse(rest.substr(0, slash))) {
    return IpKeyKind::kSomeones;
  }
  return IpKeyKind::kOwn;
}

namespace {

}  // namespace

namespace {

common::StatsRegistry& RegistryFor(const HandlerOptions& options,
                                   std::unique_ptr<common::StatsRegistry>& own) {
  if (options.stats != nullptr) return *options.stats;
  own = std::make_unique<common::StatsRegistry>();
  return *own;
}

}  // namespace

Handler::Handler(const HandlerOptions& options, kv::Store& store, ratelimit::Limiter& limiter,
                 const common::Clock& clock)
    : options_(options),
      store_(store),
      limiter_(limiter),
      rate_limit_line_(FormatRateLimitLimitLine(limiter.capacity_tokens())),
      clock_(clock),
      stats_(RegistryFor(options, own_stats_)),
      localhost_warning_(absl::Minutes(1)) {
  if (options.max_waiters == 0) return;
  waiters_ = std::make_unique<WaiterRegistry>(
      WaiterRegistry::Options{.max_waiters = options.max_waiters,
                              .max_waiters_per_client = options.max_waiters_per_client,
                              .start_waker_thread = options.waker_thread});
  // Waiters of keys and of listings (the listing shares this registry): the key's, and its
  // name's listing's when the key is an announcement.
  store_.SetChangeListener([registry = waiters_.get()](std::string_view key, uint64_t) {
    registry->OnStoreChange(key);
  });
  store_.SetChangesLostListener([registry = waiters_.get()] { registry->WakeAll(); });
}

void Handler::Finish(Response& response) {
  // Moved out first: the call may hand the Response to another request.
  Done done = std::move(response.in_flight.done);
  done();
}

void Handler::Fail(Error error, Response& response) {
  SetError(error, response);
  Finish(response);
}

void Handler::Handle(const Request& request, std::string_view path, Response& response, Done done) {
  response.in_flight.done = std::move(done);
  // The client's bucket is charged below; its memory loads while the key and headers are checked.
  if (!store_.ChargesRateLimit()) {
    limiter_.Prefetch(ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits));
  }

  // Key and header checks cost no token: a client cannot burn its own budget with a malformed
  // request, and the server does no store work for one.
  std::string& key = response.in_flight.key;
  if (std::optional<Error> error = DecodeKey(path, key)) return Fail(*error, response);
  if (key.empty()) return Fail(Error::kKeyRequired, response);
  if (key.size() > options_.max_key_bytes) return Fail(Error::kKeyTooLong, response);

  // A browser sends a preflight before most cross-origin requests (any with X-Owner-Secret,
  // If-Match or X-TTL, and every PUT and DELETE); it changes nothing, so it costs nothing, like
  // the index page. The real request that follows pays.
  if (request.method == Method::kOptions) {
    response.status = 204;
    AppendPreflightHeaders(kKeyMethods, response.extra_headers);
    return Finish(response);
  }

  const bool is_write = IsWrite(request.method);
  // Keys under "pk/" hold signed records, written only through /pk/ (PkHandler), which checks the
  // signature; "/pk%2F..." reaches this handler and must not bypass it. Reads stay open.
  if ((is_write || request.method == Method::kDelete) && key.starts_with("pk/")) {
    return Fail(Error::kForbiddenPkKey, response);
  }
  const IpKeyKind ip_kind = ClassifyIpKey(key, request.method);
  const bool ip_key = is_write && ip_kind == IpKeyKind::kOwn;
  if (ip_kind == IpKeyKind::kOwnAddress && request.method == Method::kDelete) {
    return Fail(Error::kIpNameRequired, response);
  }
  if (ip_kind == IpKeyKind::kOwn) {
    if (key.size() == kIpPrefix.size()) return Fail(Error::kIpNameRequired, response);
    // The address as the server sees it becomes the key's second segment (a write also answers
    // it). The final key must fit too, so that every key a write creates can be read back.
    const std::string address = request.client.ToString();
    if (is_write) response.body = address;
    key.insert(kIpPrefix.size(), address);
    key.insert(kIpPrefix.size() + address.size(), 1, '/');
    if (key.size() > options_.max_key_bytes) return Fail(Error::kKeyTooLong, response);
  }

  RequestConditions conditions;
  if (std::optional<Error> error = CheckConditions(request, conditions)) {
    return Fail(*error, response);
  }
  const bool is_read = request.method == Method::kGet || request.method == Method::kHead;
  WaitAsked wait;
  if (is_read && ip_kind != IpKeyKind::kOwnAddress) {
    wait = ParseWait(request.prefer, request.target);
    if (wait.malformed) return Fail(Error::kBadWait, response);  // free, like every syntax check
  }

  const absl::Time now = clock_.Now();
  response.in_flight.now = now;
  MaybeWarnLocalhost(request, now);
  const bool costs_a_write = is_write || request.method == Method::kDelete;
  kv::RateCharge charge;
  charge.client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  charge.cost_tokens = costs_a_write ? kWriteCostTokens : kOtherCostTokens;
  // A store that ChargesRateLimit holds the bucket, shared by every server, and charges it in the
  // operation's own atomic step (one round trip; AcceptStoreRate adds the headers). A request
  // refused below before it reaches such a store costs nothing.
  if (!store_.ChargesRateLimit()) {
    const ratelimit::Decision decision =
        limiter_.Take(ratelimit::ClientKey{charge.client}, charge.cost_tokens, now);
    AppendRateLimitHeaders(decision, rate_limit_line_, response.extra_headers);
    if (!decision.allowed) {
      stats_.RecordRateLimited();
      return Fail(Error::kRateLimited, response);
    }
    charge.cost_tokens = 0;  // taken
  }

  if (ip_kind == IpKeyKind::kOwnAddress) {
    // GET /ip/: what the server sees, so that a peer knows its key before it publishes.
    response.status = 200;
    response.content_type = ContentType::kTextPlain;
    response.body = request.client.ToString();
    return Finish(response);
  }

  switch (request.method) {
    case Method::kGet:
    case Method::kHead:
      // Copied: the store may answer after `request` is gone.
      response.in_flight.if_none_match.assign(request.if_none_match);
      // The store's change listener wakes waiters; on an engine shared by many servers (Redis)
      // it hears every server's writes.
      if (wait.asked && waiters_ != nullptr) {
        const absl::Duration applied = std::min(wait.duration, options_.max_wait);
        absl::StrAppend(&response.extra_headers, "Preference-Applied: wait=",
                        absl::ToInt64Seconds(applied), "\r\n");
        if (applied > absl::ZeroDuration()) {
          return HandleWaitingGet(request, applied, charge, response);
        }
      }
      return HandleGet(charge, response);
    case Method::kPost:
    case Method::kPut:
      return HandleWrite(request, ip_key, conditions.lifetime, conditions.write, charge, response);
    case Method::kDelete:
      return HandleDelete(request, conditions.if_match, charge, response);
    default:
      // Method names are case-sensitive: "post" lands here too. The token is already taken
      // (by the local limiter; a charging store never sees this request).
      response.extra_headers.append("Allow: ").append(kKeyMethods).append("\r\n");
      return Fail(Error::kMethodNotAllowed, response);
  }
}

std::optional<Error> Handler::CheckConditions(const Request& request,
                                              RequestConditions& conditions) const {
  const bool is_write = IsWrite(request.method);
  if (is_write || request.method == Method::kDelete) {
    const std::optional<IfMatch> if_match = ParseIfMatch(request.if_match);
    if (!if_match) return Error::kBadPrecondition;
    conditions.if_match = *if_match;
  }
  if (request.method == Method::kGet || request.method == Method::kHead) {
    if (!IsValidIfNoneMatch(request.if_none_match)) return Error::kBadPrecondition;
  }
  if (!is_write) return std::nullopt;

  const std::optional<absl::Duration> ttl = ParseTtl(request.ttl, options_.expire);
  if (!ttl) return Error::kBadTtl;
  conditions.lifetime = *ttl;
  // On a write only "*" (create, do not replace) is supported: "write unless the value is one of
  // these" is not a condition the store can check atomically.
  const bool if_absent = IsWildcard(request.if_none_match);
  if (!request.if_none_match.empty() && !if_absent) return Error::kBadPrecondition;
  kv::Precondition& precondition = conditions.write.precondition;
  switch (conditions.if_match.kind) {
    case IfMatch::Kind::kAbsent:
      if (if_absent) precondition.kind = kv::Precondition::Kind::kIfAbsent;
      break;
    case IfMatch::Kind::kVersion:
    case IfMatch::Kind::kAny:
      if (if_absent) {
        // The key must both exist and not exist: version 0, which no entry has, makes the store
        // answer 412 (after its owner check, as for any condition).
        precondition = {kv::Precondition::Kind::kIfMatch, 0};
      } else if (conditions.if_match.kind == IfMatch::Kind::kVersion) {
        precondition = {kv::Precondition::Kind::kIfMatch, conditions.if_match.version};
      } else {
        precondition.kind = kv::Precondition::Kind::kIfExists;
      }
      break;
  }
  return std::nullopt;
}

void Handler::MaybeWarnLocalhost(const Request& request, absl::Time now) {
  if (!options_.warn_localhost || !request.client_is_loopback_direct) return;
  if (!localhost_warning_.ShouldLog(now)) return;
  const int64_t suppressed = localhost_warning_.TakeSuppressedCount();
  // Two different mistakes: a proxy on this machine that does not send the header, and a header
  // that was sent but not believed (the proxy is missing from -trustedProxies, or it wrote
  // something that is not an address). Either way the request is charged to the loopback address.
  const std::string what =
      request.forwarded_for.empty()
          ? std::string(
                "request from localhost without X-Forwarded-For (is a reverse proxy on "
                "this machine not sending it?)")
          : absl::StrCat(
                "request from localhost with an X-Forwarded-For that was not used "
                "(the peer is not in -trustedProxies, or the right-most entry is not an "
                "IP address): \"",
                common::EscapeForLog(request.forwarded_for, 100), "\"");
  common::LogWarning(absl::StrCat(
      what, "; charged to the loopback address: ", common::EscapeForLog(request.method_text), " ",
      common::EscapeForLog(request.target),
      suppressed > 0 ? absl::StrCat(" (", suppressed, " more since the last warning)") : "",
      "; at most one such warning a minute; -disableLocalIPWaring turns it off"));
}

}  // namespace rendezvous::http

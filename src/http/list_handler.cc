// GET /ip/*/NAME: see list_handler.h for the answer and the order of checks.
#include "http/list_handler.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "http/errors.h"
#include "http/etag.h"
#include "http/json.h"
#include "http/key_headers.h"
#include "http/long_poll.h"
#include "http/request_cost.h"
#include "http/target.h"
#include "http/wait.h"

namespace rendezvous::http {
namespace {

void Finish(Response& response) {
  Done done = std::move(response.in_flight.done);  // moved out first: the Response may be reused
  done();
}

void Fail(Error error, Response& response) {
  SetError(error, response);
  Finish(response);
}

uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

// "value": "..." when `bytes` is UTF-8, else "value_base64": "..." (`field` is "value" or "name").
void AppendTextField(std::string_view field, std::string_view bytes, std::string& out) {
  out.push_back('"');
  out.append(field);
  if (IsValidUtf8(bytes)) {
    out.append("\":");
    AppendJsonString(bytes, out);
  } else {
    out.append("_base64\":\"");
    AppendBase64(bytes, out);
    out.push_back('"');
  }
}

void AppendListing(std::string_view name, const kv::ListResult& result, absl::Time now,
                   std::string& out) {
  size_t estimate = 64 + name.size();
  for (const kv::ListedPeer& peer : result.peers) estimate += 96 + peer.value.size();
  out.reserve(out.size() + estimate);
  out.push_back('{');
  AppendTextField("name", name, out);
  absl::StrAppend(&out, ",\"total\":", result.total, ",\"peers\":[");
  std::string etag;
  for (size_t i = 0; i < result.peers.size(); ++i) {
    const kv::ListedPeer& peer = result.peers[i];
    if (i > 0) out.push_back(',');
    out.append("{\"address\":");
    AppendJsonString(peer.address, out);
    out.push_back(',');
    AppendTextField("value", peer.value, out);
    etag.clear();
    AppendETag(peer.version, etag);
    out.append(",\"etag\":");
    AppendJsonString(etag, out);
    // Whole seconds left, rounded down, as X-Expires-In.
    const int64_t seconds = std::max<int64_t>(0, absl::ToInt64Seconds(peer.expires_at - now));
    absl::StrAppend(&out, ",\"expires_in\":", seconds, "}");
  }
  out.append("]}\n");
}

}  // namespace

uint64_t ListETagVersion(uint64_t fingerprint, uint64_t total) {
  const uint64_t version = Mix(fingerprint ^ Mix(total + 0x6c697374ULL));
  return version == 0 ? 1 : version;
}

std::optional<uint32_t> ParseListLimit(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return kDefaultListLimit;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.starts_with("limit=")) {
      const std::string_view digits = param.substr(6);
      if (digits.empty() || digits.size() > 4) return std::nullopt;
      uint32_t limit = 0;
      for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        limit = limit * 10 + static_cast<uint32_t>(c - '0');
      }
      if (limit > kMaxListLimit) return std::nullopt;
      return limit;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return kDefaultListLimit;
}

ListHandler::ListHandler(const ListHandlerOptions& options, kv::Store& store,
                         ratelimit::Limiter& limiter, const common::Clock& clock,
                         WaiterRegistry* waiters)
    : options_(options),
      store_(store),
      limiter_(limiter),
      rate_limit_line_(FormatRateLimitLimitLine(limiter.capacity_tokens())),
      clock_(clock),
      waiters_(waiters),
      next_seed_(options.first_seed ? *options.first_seed : RandomSeed()) {}

void ListHandler::Handle(const Request& request, std::string_view path, Response& response,
                         Done done) {
  response.in_flight.done = std::move(done);
  // The name is decoded as a key is; in_flight.key holds it while the store works (and names the
  // listing's waiters while it waits).
  std::string& name = response.in_flight.key;
  const std::string_view raw = path.substr(std::min(path.size(), kListPrefix.size() - 1));
  if (std::optional<Error> error = DecodeKey(raw, name)) return Fail(*error, response);
  if (name.empty()) return Fail(Error::kIpNameRequired, response);
  if (name.size() > options_.max_key_bytes) return Fail(Error::kKeyTooLong, response);
  // Syntax checks cost no token, as on keys.
  const std::optional<uint32_t> limit = ParseListLimit(request.target);
  if (!limit) return Fail(Error::kBadListLimit, response);
  if (!IsValidIfNoneMatch(request.if_none_match)) return Fail(Error::kBadPrecondition, response);
  const bool is_read = request.method == Method::kGet || request.method == Method::kHead;
  const WaitAsked wait = is_read ? ParseWait(request.prefer, request.target) : WaitAsked{};
  if (wait.malformed) return Fail(Error::kBadWait, response);

  if (request.method == Method::kOptions) {  // a preflight changes nothing and costs nothing
    response.status = 204;
    AppendPreflightHeaders(kListMethods, response.extra_headers);
    return Finish(response);
  }

  const absl::Time now = clock_.Now();
  response.in_flight.now = now;
  kv::RateCharge charge;
  charge.client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  charge.cost_tokens = kOtherCostTokens;
  if (!store_.ChargesRateLimit()) {
    const ratelimit::Decision decision =
        limiter_.Take(ratelimit::ClientKey{charge.client}, charge.cost_tokens, now);
    AppendRateLimitHeaders(decision, rate_limit_line_, response.extra_headers);
    if (!decision.allowed) return Fail(Error::kRateLimited, response);
    charge.cost_tokens = 0;  // taken
  }
  if (!is_read) {
    // Refused before the store: a charging store never sees it, so it costs nothing there.
    response.extra_headers.append("Allow: ").append(kListMethods).append("\r\n");
    return Fail(Error::kMethodNotAllowed, response);
  }

  response.in_flight.if_none_match.assign(request.if_none_match);  // `request` may be gone later
  response.in_flight.list_limit = *limit;
  // Waits work on every engine, as on keys: on one shared by many servers (Redis) the store's
  // change feed brings the writes of every server.
  if (wait.asked && waiters_ != nullptr) {
    const absl::Duration applied = std::min(wait.duration, options_.max_wait);
    absl::StrAppend(&response.extra_headers,
                    "Preference-Applied: wait=", absl::ToInt64Seconds(applied), "\r\n");
    // Without If-None-Match there is no "unchanged" to wait on: the listing answers at once.
    if (applied > absl::ZeroDuration() && !request.if_none_match.empty()) {
      return HandleWaitingList(request, applied, charge, response);
    }
  }
  ListAndAnswer(charge, response);
}

kv::ListRequest ListHandler::ListRequestFor(const Response& response) {
  kv::ListRequest list;
  list.name = response.in_flight.key;
  list.now = response.in_flight.now;
  list.limit = response.in_flight.list_limit;
  list.seed = next_seed_.fetch_add(1, std::memory_order_relaxed);
  return list;
}

void ListHandler::ListAndAnswer(const kv::RateCharge& charge, Response& response) {
  kv::ListRequest list = ListRequestFor(response);
  list.charge = charge;
  store_.List(list, [this, &response](const kv::ListResult& result) { Answer(result, response); });
}

void ListHandler::Answer(const kv::ListResult& result, Response& response) {
  if (result.rate) {
    AppendRateLimitHeaders(*result.rate, rate_limit_line_, response.extra_headers);
  }
  if (result.status != kv::Status::kOk) return Fail(ErrorFor(result.status), response);
  const uint64_t tag = ListETagVersion(result.fingerprint, result.total);
  std::string& headers = response.extra_headers;
  headers.append("ETag: ");
  AppendETag(tag, headers);
  headers.append("\r\nCache-Control: no-store\r\n");
  const std::string& if_none_match = response.in_flight.if_none_match;
  if (!if_none_match.empty() && IfNoneMatchMatches(if_none_match, tag)) {
    response.status = 304;
    return Finish(response);
  }
  response.status = 200;
  response.content_type = ContentType::kJson;
  AppendListing(response.in_flight.key, result, response.in_flight.now, response.body);
  Finish(response);
}

void ListHandler::HandleWaitingList(const Request& request, absl::Duration wait,
                                    const kv::RateCharge& charge, Response& response) {
  // Linked (pinned) before the listing is read, as a key waiter is: a write between the read and
  // the link would otherwise be missed; the read's FinishRead decides who answers.
  const auto client = ratelimit::ClientKey::For(request.client, options_.ipv6_prefix_bits).bytes;
  const auto added = Park(*waiters_, WaitOn::kListing, *this, client, wait, response);
  if (added != WaiterRegistry::AddResult::kAdded) {
    if (const std::optional<Error> error = WaitCapError(added)) return Fail(*error, response);
    return ListAndAnswer(charge, response);  // shutting down: at once, charged as any listing
  }
  // On a store that ChargesRateLimit this list pays the wait's token (a refusal is answered at
  // once); a re-list after a wake only reports the bucket (ReportCharge).
  ListPinned(charge, response);
}

void ListHandler::ListPinned(const kv::RateCharge& charge, Response& response) {
  kv::ListRequest list = ListRequestFor(response);
  list.charge = charge;
  store_.List(list, [this, &response](const kv::ListResult& result) {
    const bool answers = result.status != kv::Status::kOk ||
                         !IfNoneMatchMatches(response.in_flight.if_none_match,
                                             ListETagVersion(result.fingerprint, result.total));
    if (waiters_->FinishRead(response.in_flight.key, response.in_flight.waiter, answers) !=
        WaiterRegistry::ReadOutcome::kAnswer) {
      return;  // parked (unchanged), or queued for the waker to list again
    }
    Answer(result, response);
  });
}

void ListHandler::RecheckWoken(Response& response) {
  // A wake says that an announcement of the name may have changed (a late Redis message, a wake
  // of every waiter): list again, and answer only when the ETag changed; else stay parked.
  // Not linked again (the wait is over, shutdown, the caps are full now): answered from the
  // state (304 when unchanged).
  if (!ParkAgain(*waiters_, response)) return AnswerFired(response);
  response.in_flight.now = clock_.Now();
  ListPinned(ReportCharge(store_, response), response);
}

void ListHandler::AnswerFired(Response& response) {
  // The state now decides: a changed listing is 200, an unchanged one 304.
  response.in_flight.now = clock_.Now();
  ListAndAnswer(ReportCharge(store_, response), response);
}

}  // namespace rendezvous::http

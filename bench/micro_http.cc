// Microbenchmarks of the per-request work in http/ that touches no store: finding the path in
// the request-target, percent-decoding the key, and serializing a response.
//
// Each runs on one thread with warm buffers, the way a connection reuses its Response and key
// buffer, so a result above a few tens of nanoseconds means an allocation or a slow path crept
// in. Run through bench/run.sh (`make bench`) or directly: build-release/bench/rdv-micro.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "http/key_headers.h"
#include "http/response.h"
#include "http/target.h"

namespace rendezvous::http {
namespace {

// The shapes wrk sends in bench/run.sh, and two harder ones.
constexpr std::string_view kPlainTarget = "/bench/k12345";
constexpr std::string_view kQueryTarget = "/bench/k12345?cache-buster=1700000000";
constexpr std::string_view kAbsoluteTarget = "http://example.com:8080/bench/k12345";
// Every byte an escape: the worst case for the decoder at a realistic key length.
constexpr std::string_view kEscapedTarget =
    "/%62%65%6E%63%68%2F%6B%31%32%33%34%35%2F%C3%A9%E2%82%AC%20%2B%25%3F%23%00%FF";

void ParseAndDecode(benchmark::State& state, std::string_view target) {
  std::string key;
  key.reserve(128);
  for (auto _ : state) {
    ParsedTarget parsed = ParseTarget(target);
    std::optional<Error> error = DecodeKey(parsed.path, key);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(key.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(target.size()));
}

void BM_ParseTarget(benchmark::State& state) {
  for (auto _ : state) {
    ParsedTarget parsed = ParseTarget(kQueryTarget);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTarget);

void BM_DecodeKey_Plain(benchmark::State& state) { ParseAndDecode(state, kPlainTarget); }
BENCHMARK(BM_DecodeKey_Plain);

void BM_DecodeKey_Query(benchmark::State& state) { ParseAndDecode(state, kQueryTarget); }
BENCHMARK(BM_DecodeKey_Query);

void BM_DecodeKey_AbsoluteForm(benchmark::State& state) { ParseAndDecode(state, kAbsoluteTarget); }
BENCHMARK(BM_DecodeKey_AbsoluteForm);

void BM_DecodeKey_AllEscaped(benchmark::State& state) { ParseAndDecode(state, kEscapedTarget); }
BENCHMARK(BM_DecodeKey_AllEscaped);

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

void Serialize(benchmark::State& state, const Response& response, bool keep_alive) {
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    AppendResponse(response, kDate, keep_alive, /*request_version=*/11, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}

// Workload (1): a 100-byte value, keep-alive.
void BM_AppendResponse_Get100(benchmark::State& state) {
  Response response;
  response.content_type = ContentType::kOctetStream;
  response.body.assign(100, 'v');
  Serialize(state, response, /*keep_alive=*/true);
}
BENCHMARK(BM_AppendResponse_Get100);

// Workload (3): the answer to a POST.
void BM_AppendResponse_PostOk(benchmark::State& state) {
  Response response;
  response.content_type = ContentType::kTextPlain;
  response.body = "OK";
  Serialize(state, response, /*keep_alive=*/true);
}
BENCHMARK(BM_AppendResponse_PostOk);

// Workload (5): a refusal with nosniff and Retry-After.
void BM_AppendResponse_RateLimited(benchmark::State& state) {
  Response response;
  response.status = 429;
  response.content_type = ContentType::kTextPlain;
  response.nosniff = true;
  response.body = "Rate limit\n";
  response.extra_headers = "Retry-After: 6\r\n";
  Serialize(state, response, /*keep_alive=*/true);
}
BENCHMARK(BM_AppendResponse_RateLimited);

// The rate-limit header lines every key response carries (a passing request, then a refusal).
void BM_AppendRateLimitHeaders(benchmark::State& state) {
  ratelimit::Decision decision;
  decision.allowed = state.range(0) != 0;
  decision.remaining_tokens = 999'999'937;
  decision.retry_after = decision.allowed ? absl::ZeroDuration() : absl::Milliseconds(5'400);
  decision.until_full = absl::Nanoseconds(63);
  std::string out;
  out.reserve(512);
  for (auto _ : state) {
    out.clear();
    AppendRateLimitHeaders(decision, 1'000'000'000, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendRateLimitHeaders)->Arg(1)->Arg(0);

// The same with the RateLimit-Limit line formatted once, as the handlers do.
void BM_AppendRateLimitHeaders_Preformatted(benchmark::State& state) {
  ratelimit::Decision decision;
  decision.allowed = state.range(0) != 0;
  decision.remaining_tokens = 999'999'937;
  decision.retry_after = decision.allowed ? absl::ZeroDuration() : absl::Milliseconds(5'400);
  decision.until_full = absl::Nanoseconds(63);
  const std::string limit_line = FormatRateLimitLimitLine(1'000'000'000);
  std::string out;
  out.reserve(512);
  for (auto _ : state) {
    out.clear();
    AppendRateLimitHeaders(decision, limit_line, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendRateLimitHeaders_Preformatted)->Arg(1)->Arg(0);

// Workload (2): the same value, answered with Connection: close.
void BM_AppendResponse_Get100Close(benchmark::State& state) {
  Response response;
  response.content_type = ContentType::kOctetStream;
  response.body.assign(100, 'v');
  Serialize(state, response, /*keep_alive=*/false);
}
BENCHMARK(BM_AppendResponse_Get100Close);

}  // namespace
}  // namespace rendezvous::http

// Microbenchmarks of net/'s per-request work before the handler: parsing the request with
// RequestParser (a fresh parser per request over the connection's reused RequestFields, as the
// session does) and resolving the client address from X-Forwarded-For.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"
#include "net/client_address.h"
#include "net/request_parser.h"

namespace rendezvous::net {
namespace {

constexpr size_t kHeaderLimit = 8192;
constexpr size_t kBodyLimit = 1000;

// What wrk sends in bench/run.sh's GET workload.
constexpr std::string_view kGetRequest =
    "GET /bench/get0 HTTP/1.1\r\n"
    "Host: 127.0.0.1:40000\r\n"
    "X-Forwarded-For: 93.184.216.34\r\n"
    "\r\n";

// A browser-like GET: more and longer fields, which the parser walks but does not keep.
constexpr std::string_view kBrowserRequest =
    "GET /bench/get0 HTTP/1.1\r\n"
    "Host: rendezvous.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "X-Forwarded-For: 93.184.216.34, 10.0.0.2\r\n"
    "\r\n";

std::string PostRequest() {
  return "POST /bench/k12345 HTTP/1.1\r\n"
         "Host: 127.0.0.1:40000\r\n"
         "X-Forwarded-For: 93.184.216.34\r\n"
         "Content-Length: 200\r\n"
         "\r\n" +
         std::string(200, 'v');
}

// Parses `request` once per iteration the way Session::ProcessInput does: put() until done
// (the parser stops after the header, eager(false), so a body takes a second call).
void Parse(benchmark::State& state, std::string_view request) {
  RequestFields fields;
  std::optional<RequestParser> parser;
  for (auto _ : state) {
    parser.emplace(fields, kHeaderLimit, kBodyLimit);
    std::string_view rest = request;
    boost::beast::error_code ec;
    while (!parser->is_done() && !rest.empty()) {
      const size_t used = parser->put(boost::asio::buffer(rest.data(), rest.size()), ec);
      if (ec && ec != boost::beast::http::error::need_more) break;
      rest.remove_prefix(used);
    }
    if (!parser->is_done()) {
      state.SkipWithError("request not parsed");
      break;
    }
    benchmark::DoNotOptimize(fields.target.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
}

void BM_RequestParser_Get(benchmark::State& state) { Parse(state, kGetRequest); }
BENCHMARK(BM_RequestParser_Get);

void BM_RequestParser_BrowserGet(benchmark::State& state) { Parse(state, kBrowserRequest); }
BENCHMARK(BM_RequestParser_BrowserGet);

void BM_RequestParser_Post200(benchmark::State& state) {
  const std::string request = PostRequest();
  Parse(state, request);
}
BENCHMARK(BM_RequestParser_Post200);

void Resolve(benchmark::State& state, std::string_view forwarded_for) {
  // Loopback and a private proxy network, so that the chains below walk past their proxies (the
  // default trusts loopback only).
  const ProxyPolicy policy{*ParseCidrList("127.0.0.0/8,::1,10.0.0.0/8,192.168.0.0/16", nullptr)};
  const common::IpAddress peer = common::IpAddress::FromV4(0x7F000001);
  const std::string_view lines[] = {forwarded_for};
  for (auto _ : state) {
    ClientResolution resolution = ResolveClient(peer, lines, policy);
    benchmark::DoNotOptimize(resolution);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ResolveClient_OneHop(benchmark::State& state) { Resolve(state, "93.184.216.34"); }
BENCHMARK(BM_ResolveClient_OneHop);

void BM_ResolveClient_PastTwoProxies(benchmark::State& state) {
  Resolve(state, "2001:db8::1, 93.184.216.34, 10.1.2.3, 192.168.0.7");
}
BENCHMARK(BM_ResolveClient_PastTwoProxies);

}  // namespace
}  // namespace rendezvous::net

// The index page: gzip negotiation, the host in the examples, the configured limits, and the
// bound on compression work under a flood of Host values.
#include "http/index_page.h"

#include <zlib.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "http/errors.h"
#include "http/request_cost.h"
#include "secret/digest.h"

namespace rendezvous::http {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

std::string Gunzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(64 * 1024, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

Response Render(const IndexPage& page, std::string_view host, bool gzip, absl::Time now = kNow,
                bool https = false) {
  Response response;
  page.Render(host, https, gzip, /*head=*/false, now, response);
  return response;
}

// The page's HTML, whether or not it was compressed.
std::string Html(const Response& response) {
  return response.gzip ? Gunzip(response.body) : response.body;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(IndexPageTest, PlainWhenGzipIsNotAcceptedAndAlwaysVary) {
  IndexPage page({});
  const Response response = Render(page, "example.com", false);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, ContentType::kHtml);
  EXPECT_FALSE(response.gzip);
  EXPECT_TRUE(response.vary_accept_encoding);
  EXPECT_EQ(response.body.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(IndexPageTest, GzipWhenAcceptedDecompressesToThePlainPage) {
  IndexPage page({});
  const Response gzipped = Render(page, "example.com", true);
  EXPECT_TRUE(gzipped.gzip);
  EXPECT_TRUE(gzipped.vary_accept_encoding);
  EXPECT_LT(gzipped.body.size(), Render(page, "example.com", false).body.size());
  EXPECT_EQ(Gunzip(gzipped.body), Render(page, "example.com", false).body);
}

TEST(IndexPageTest, CurlExamplesUseTheRequestedHost) {
  IndexPage page({});
  for (bool gzip : {false, true}) {
    const std::string html = Html(Render(page, "kv.example.org:8080", gzip));
    EXPECT_TRUE(Contains(html, "curl -d 'hello world' http://kv.example.org:8080/my-key"));
    EXPECT_TRUE(Contains(html, "curl http://kv.example.org:8080/ip/203.0.113.7/my-service"));
    EXPECT_FALSE(Contains(html, "your-server"));
    EXPECT_FALSE(Contains(html, "{{"));
  }
  EXPECT_TRUE(Contains(Html(Render(page, "[2001:db8::1]:80", false)), "http://[2001:db8::1]:80/"));
}

TEST(IndexPageTest, ImplausibleHostsBecomeThePlaceholder) {
  IndexPage page({});
  for (const std::string& host :
       {std::string("<script>alert(1)</script>"), std::string("a\"b"), std::string("a b"),
        std::string("a'b"), std::string("a&b"), std::string(""), std::string(256, 'a'),
        std::string("host\r\nX: y"), std::string("h/x"), std::string("ключ")}) {
    EXPECT_EQ(IndexPage::DisplayHost(host), IndexPage::kPlaceholderHost) << host;
    for (bool gzip : {false, true}) {
      const std::string html = Html(Render(page, host, gzip));
      EXPECT_TRUE(Contains(html, "http://your-server/my-key")) << host;
      EXPECT_FALSE(Contains(html, "<script>alert")) << host;
    }
  }
  EXPECT_EQ(IndexPage::DisplayHost(std::string(255, 'a')), std::string(255, 'a'));
  EXPECT_EQ(IndexPage::DisplayHost("127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(IndexPage::DisplayHost("[::1]"), "[::1]");
}

TEST(IndexPageTest, ShowsTheConfiguredLimits) {
  IndexPage page({.max_key_bytes = 123,
                  .max_value_bytes = 4567,
                  .max_entries = 89,
                  .expire = absl::Minutes(90),
                  .reset = absl::Seconds(30),
                  .max_requests = 42,
                  .ipv6_prefix_bits = 56});
  const std::string html = Render(page, "h", false).body;
  EXPECT_TRUE(Contains(html, "at most 123 bytes after decoding"));
  EXPECT_TRUE(Contains(html, "at most 4567 bytes, value and secret together"));
  EXPECT_TRUE(Contains(html, "at most 89 on the server"));
  EXPECT_TRUE(Contains(html, "expires 90 minutes after its last write"));
  EXPECT_TRUE(Contains(html, "42 tokens per client"));
  EXPECT_TRUE(Contains(html, "30 seconds"));
  EXPECT_TRUE(Contains(html, "IPv6 /56 network"));
}

TEST(IndexPageTest, DefaultLimitsReadNaturally) {
  IndexPage page({});
  const std::string html = Render(page, "h", false).body;
  EXPECT_TRUE(Contains(html, "expires 2 hours after"));
  EXPECT_TRUE(Contains(html, "over\n1 minute;")) << html;
  EXPECT_TRUE(Contains(html, "11 tokens"));
  EXPECT_TRUE(Contains(html, "at most 100 bytes"));
  EXPECT_TRUE(Contains(html, "at most 1000 bytes"));
  EXPECT_TRUE(Contains(html, "at most 100000 on"));
}

TEST(IndexPageTest, DocumentsTheHttpSemanticsWithExamples) {
  IndexPage page({});
  const std::string html = Render(page, "example.com", false).body;
  for (std::string_view part :
       {"curl -X PUT --data-binary 'v2' http://example.com/my-key",
        "curl -X DELETE -H 'X-Owner-Secret: long-random-secret' http://example.com/my-key",
        "curl -H 'X-TTL: 90s'", "curl -H 'If-None-Match: \"1f\"'",
        "curl -X PUT -H 'If-Match: \"1f\"'", "curl -X PUT -H 'If-None-Match: *'",
        "const url = 'http://example.com/room-42';", "await fetch(url, {method: 'PUT'",
        "Access-Control-Allow-Origin: *", "RateLimit-Remaining", "<code>Expires</code>",
        "<code>X-Expires-In</code>", "a POST, PUT or DELETE costs 3 tokens", "<td>204</td>",
        "<td>304</td>", "<td>412</td>", "Invalid X-TTL",
        "Forbidden: key belongs to another address"}) {
    EXPECT_TRUE(Contains(html, part)) << part;
  }
}

TEST(IndexPageTest, TheTableOfAnswersListsEveryErrorTheServerSends) {
  IndexPage page({});
  const std::string html = Render(page, "example.com", false).body;
  for (const Answer& answer : ErrorAnswers()) {
    std::string body(answer.body.substr(0, answer.body.size() - 1));  // without the "\n"
    EXPECT_EQ(answer.body.back(), '\n') << body;
    EXPECT_TRUE(Contains(
        html, absl::StrCat("<tr><td>", answer.status, "</td><td><code>", body, "</code></td>")))
        << answer.status << " " << body;
  }
  // The key quota's 429, which a hand-written table once left out.
  EXPECT_TRUE(Contains(html,
                       "<tr><td>429</td><td><code>Key quota reached: too many live keys "
                       "from your address</code></td>"));
  for (int status : {200, 204, 304}) {
    EXPECT_TRUE(Contains(html, absl::StrCat("<tr><td>", status, "</td>"))) << status;
  }
  EXPECT_EQ(SuccessAnswers().size(), 3u);
}

TEST(IndexPageTest, TheTokenCostsAreTheHandlersCosts) {
  IndexPage page({});
  const std::string html = Render(page, "example.com", false).body;
  EXPECT_TRUE(Contains(
      html, absl::StrCat("a POST, PUT or DELETE costs ", kWriteCostTokens,
                         " tokens, any other request on a key\n", kOtherCostTokens, "</td>")));
}

TEST(IndexPageTest, PageHasNoExternalResources) {
  IndexPage page({});
  const std::string html = Render(page, "h", false).body;
  EXPECT_FALSE(Contains(html, "src="));
  EXPECT_FALSE(Contains(html, "<script "));  // one inline script, no attributes
  EXPECT_EQ(html.find("<script>"), html.rfind("<script>"));
  EXPECT_EQ(html.find("<link"), html.rfind("<link"));  // the icon, a data: URL
  EXPECT_TRUE(Contains(html, "<link rel=\"icon\" href=\"data:image/svg+xml,"));
  EXPECT_FALSE(Contains(html, "https://"));
  EXPECT_FALSE(Contains(html, "@import"));
  EXPECT_FALSE(Contains(html, "url("));
}

// The text between the first `open` and the next `close` in `html`.
std::string Between(const std::string& html, std::string_view open, std::string_view close) {
  const size_t begin = html.find(open) + open.size();
  return html.substr(begin, html.find(close, begin) - begin);
}

std::string CspHash(const std::string& text) {
  const std::array<uint8_t, 32> digest = secret::Sha256(text);
  return absl::StrCat("'sha256-",
                      absl::Base64Escape(absl::string_view(
                          reinterpret_cast<const char*>(digest.data()), digest.size())),
                      "'");
}

TEST(IndexPageTest, ThePolicyAllowsExactlyThePagesInlineScriptAndStyle) {
  IndexPage page({});
  const Response response = Render(page, "example.com", false);
  const std::string& headers = response.extra_headers;
  const std::string script = Between(response.body, "<script>", "</script>");
  const std::string style = Between(response.body, "<style>", "</style>");
  EXPECT_TRUE(Contains(script, "await fetch(path, init)"));
  EXPECT_TRUE(Contains(style, "white-space:pre-wrap"));
  EXPECT_TRUE(Contains(headers, absl::StrCat("Content-Security-Policy: default-src 'none'; "
                                             "script-src ",
                                             CspHash(script), "; style-src ", CspHash(style),
                                             "; img-src data:; connect-src "
                                             "'self'; form-action 'none'; frame-ancestors "
                                             "'none'; base-uri 'none'\r\n")))
      << headers;
  EXPECT_NE(CspHash(script), CspHash(script + " "));
  EXPECT_TRUE(Contains(headers, "Cache-Control: public, max-age=300\r\n"));
  EXPECT_TRUE(Contains(headers, "Vary: Host, X-Forwarded-Proto, X-Forwarded-Host, Forwarded\r\n"));
  EXPECT_EQ(headers, page.headers());
  // The same headers on the compressed page and on HEAD.
  EXPECT_EQ(Render(page, "example.com", true).extra_headers, headers);
}

TEST(IndexPageTest, HttpsOriginsAppearInTheExamplesAndAreCachedApart) {
  IndexPage page({});
  for (bool gzip : {false, true}) {
    const std::string html = Html(Render(page, "kv.example.org:8443", gzip, kNow, /*https=*/true));
    EXPECT_TRUE(Contains(html, "curl -d 'hello world' https://kv.example.org:8443/my-key"));
    EXPECT_TRUE(Contains(html, "const url = 'https://kv.example.org:8443/room-42';"));
    EXPECT_FALSE(Contains(html, "http://kv.example.org"));
    const std::string plain = Html(Render(page, "kv.example.org:8443", gzip));
    EXPECT_TRUE(Contains(plain, "curl http://kv.example.org:8443/my-key"));
    EXPECT_FALSE(Contains(plain, "https://"));
    // An implausible host keeps the scheme.
    EXPECT_TRUE(Contains(Html(Render(page, "a b", gzip, kNow, /*https=*/true)),
                         "https://your-server/my-key"));
  }
}

TEST(IndexPageTest, TheLimitsTableShowsTheKeyQuota) {
  EXPECT_TRUE(Contains(Render(IndexPage({.max_keys_per_client = 7}), "h", false).body,
                       "<td>Keys per client</td><td>at most 7 live keys created by one client"));
  EXPECT_TRUE(Contains(Render(IndexPage({.max_keys_per_client = 0}), "h", false).body,
                       "<td>Keys per client</td><td>no limit"));
}

TEST(IndexPageTest, HeadHasTheBodyLengthOfGet) {
  IndexPage page({});
  for (bool gzip : {false, true}) {
    Response head;
    page.Render("h", /*https=*/false, gzip, /*head=*/true, kNow, head);
    EXPECT_TRUE(head.head);
    EXPECT_EQ(head.body.size(), Render(page, "h", gzip).body.size());
  }
}

TEST(IndexPageTest, AcceptEncodingNegotiation) {
  for (std::string_view yes : {"gzip", "GZIP", "gzip, deflate, br", "deflate, gzip;q=0.5", "x-gzip",
                               "gzip;q=1", "gzip ; q=0.001", " br ,gzip "}) {
    EXPECT_TRUE(IndexPage::AcceptsGzip(yes)) << yes;
  }
  for (std::string_view no : {"", "identity", "br, deflate", "*", "gzip;q=0", "gzip; q=0.000",
                              "gzip;Q=0.", "gzipx", "x-gzip;q=0", "deflate;q=1, gzip;q=0"}) {
    EXPECT_FALSE(IndexPage::AcceptsGzip(no)) << no;
  }
}

TEST(IndexPageTest, CachedHostsAreNotCompressedAgain) {
  IndexPage page({});
  const int64_t at_start = page.compressions();
  for (int i = 0; i < 100; ++i) Render(page, "example.com", true);
  Render(page, IndexPage::kPlaceholderHost, true);
  Render(page, "not a host", true);
  EXPECT_EQ(page.compressions(), at_start + 1);
}

TEST(IndexPageTest, RandomHostFloodCostsBoundedCompressionPerSecond) {
  IndexPage page({});
  std::mt19937 random(42);
  const int64_t at_start = page.compressions();
  absl::Time now = kNow;
  int placeholder_pages = 0;
  for (int second = 0; second < 5; ++second) {
    for (int i = 0; i < 2000; ++i) {
      const std::string host = "h" + std::to_string(random()) + ".example";
      const std::string html = Html(Render(page, host, true, now));
      if (Contains(html, "http://your-server/")) {
        ++placeholder_pages;
      } else {
        ASSERT_TRUE(Contains(html, "http://" + host + "/")) << host;
      }
    }
    EXPECT_LE(page.compressions() - at_start, (second + 1) * IndexPage::kMaxCompressionsPerSecond);
    now += absl::Seconds(1);
  }
  EXPECT_EQ(page.compressions() - at_start, 5 * IndexPage::kMaxCompressionsPerSecond);
  EXPECT_EQ(placeholder_pages, 10000 - 5 * IndexPage::kMaxCompressionsPerSecond);
}

TEST(IndexPageTest, HostsWithinTheCacheSizeStayCachedWhenTheBudgetIsSpent) {
  IndexPage page({});
  for (size_t i = 0; i < IndexPage::kCacheEntries && i < IndexPage::kMaxCompressionsPerSecond;
       ++i) {
    Render(page, "host" + std::to_string(i), true);
  }
  const int64_t filled = page.compressions();
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < IndexPage::kCacheEntries && i < IndexPage::kMaxCompressionsPerSecond;
         ++i) {
      const std::string host = "host" + std::to_string(i);
      EXPECT_TRUE(Contains(Html(Render(page, host, true)), "http://" + host + "/"));
    }
  }
  EXPECT_EQ(page.compressions(), filled);
}

TEST(IndexPageTest, PlainPagesNeverUseTheCompressionBudget) {
  IndexPage page({});
  const int64_t at_start = page.compressions();
  for (int i = 0; i < 1000; ++i) {
    const std::string host = "p" + std::to_string(i);
    EXPECT_TRUE(Contains(Render(page, host, false).body, "http://" + host + "/"));
  }
  EXPECT_EQ(page.compressions(), at_start);
}

TEST(IndexPageTest, ConcurrentRendersAreSafe) {
  IndexPage page({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&page, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string host = "t" + std::to_string(t) + "-" + std::to_string(i % 40);
        const Response response = Render(page, host, i % 2 == 0, kNow + absl::Seconds(i / 50));
        EXPECT_EQ(response.status, 200);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace
}  // namespace rendezvous::http

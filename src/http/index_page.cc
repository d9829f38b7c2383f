// The index page: template, per-host rendering, gzip and its bounded cache (see index_page.h).
#include "http/index_page.h"

#include <zlib.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "http/errors.h"
#include "http/request_cost.h"

namespace rendezvous::http {
namespace {

// The page, with {{NAME}} placeholders. {{HOST}} is filled per request; the rest at start.
// (absl::string_view: Debian's Abseil string functions do not take std::string_view.)
constexpr absl::string_view kTemplate = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rendezvous: a small public key-value store</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
pre,code{font:14px/1.45 ui-monospace,monospace;background:#f3f3f3}
pre{padding:.6rem .8rem;overflow-x:auto}
table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
</style>
</head>
<body>
<h1>rendezvous</h1>
<p>A public key-value store over plain HTTP, for programs that need to find each other: one side
writes a value under a key, the other reads it. No accounts and no setup; pick a key nobody else
would guess.</p>

<h2>Write and read</h2>
<pre>
# store a value: the request body, byte for byte
curl -d 'hello world' http://{{HOST}}/my-key

# read it back (application/octet-stream)
curl http://{{HOST}}/my-key

# binary data: --data-binary keeps every byte
curl --data-binary @file.bin http://{{HOST}}/my-file
</pre>
<p>A write answers <code>OK</code>. The key is the URL path without its first <code>/</code>,
percent-decoded (<code>%2F</code> is <code>/</code>, <code>+</code> stays a plus sign); the query
string is ignored. Writing a key again replaces its value and restarts its lifetime. HEAD answers
with the headers of a GET.</p>

<h2>Own a key</h2>
<pre>
curl -H 'X-Owner-Secret: long-random-secret' -d 'v1' http://{{HOST}}/my-key
curl -H 'X-Owner-Secret: long-random-secret' -d 'v2' http://{{HOST}}/my-key  # OK
curl -d 'v3' http://{{HOST}}/my-key                                        # 403
</pre>
<p>The first write with an <code>X-Owner-Secret</code> header claims a key that has no owner yet;
after that, only writes with the same secret succeed. Reads need no secret. The server keeps a
hash of the secret, never the secret itself.</p>

<h2>Publish under your address</h2>
<pre>
curl -d 'my-service-info' http://{{HOST}}/ip/my-service
# answers with your address as this server sees it, say 203.0.113.7; then anyone can
curl http://{{HOST}}/ip/203.0.113.7/my-service
</pre>
<p>A POST to <code>/ip/NAME</code> is stored under <code>ip/ADDRESS/NAME</code>, so machines behind
the same public address find each other's entries. IPv6 addresses are written in their short
form (RFC 5952).</p>

<h2>Replace, delete, expire</h2>
<pre>
# PUT is the same as POST
curl -X PUT --data-binary 'v2' http://{{HOST}}/my-key

# delete a key (an owned one needs its secret): 204, or 404 when there is none
curl -X DELETE -H 'X-Owner-Secret: long-random-secret' http://{{HOST}}/my-key

# a shorter life for this write: whole seconds, or a duration such as 90s or 1h30m
curl -H 'X-TTL: 90s' -d 'short-lived' http://{{HOST}}/my-key
</pre>
<p>A key under <code>ip/ADDRESS/</code> can be deleted only from that address (an IPv6 client
from any address of its /{{IPV6_PREFIX}} network). An <code>X-TTL</code> longer than
{{EXPIRE}} is cut to it. Every value and every write answer says when the key expires:
<code>Expires</code> (a date) and <code>X-Expires-In</code> (whole seconds).</p>

<h2>Conditional requests</h2>
<pre>
# every value and every write answer carries an ETag, such as "1f"
curl -i http://{{HOST}}/my-key

# read only if it changed: 304 Not Modified, without a body, when it did not
curl -H 'If-None-Match: "1f"' http://{{HOST}}/my-key

# compare-and-swap: write only if the value is still "1f", else 412
curl -X PUT -H 'If-Match: "1f"' -d 'next' http://{{HOST}}/my-key

# create only: 412 when the key exists
curl -X PUT -H 'If-None-Match: *' -d 'mine' http://{{HOST}}/my-lock
</pre>
<p>The ETag changes on every write of the key. <code>If-Match: *</code> writes only if the key
exists, and <code>If-Match</code> guards a DELETE too. The condition is checked in the same step
as the write: of many clients that send the same ETag, exactly one wins.</p>

<h2>Signed keys</h2>
<p><code>/pk/KEY</code>, where KEY is an ed25519 public key in z-base-32, holds a record signed by
its private key, in the format of pkarr relays: a PUT is stored
only if its signature verifies and its timestamp is newer than the stored record's (an older one
is 409), and no secret is needed. pkarr clients can use <code>http://{{HOST}}/pk</code> as their
relay.</p>

<h2>From a web page</h2>
<p>Every answer allows any origin (<code>Access-Control-Allow-Origin: *</code>) and lets scripts
read its ETag, expiry and rate-limit headers. Browsers' preflight requests (<code>OPTIONS</code>)
are answered for every key and cost nothing.</p>
<pre>
const url = 'http://{{HOST}}/room-42';
await fetch(url, {method: 'PUT', body: JSON.stringify(offer), headers: {'X-TTL': '60'}});
const answer = await fetch(url);
if (answer.ok) console.log(await answer.text(), answer.headers.get('ETag'));
</pre>

<h2>Limits of this server</h2>
<table>
<tr><td>Key</td><td>at most {{MAX_KEY}} bytes after decoding (for <code>/ip/</code> keys, the
address included)</td></tr>
<tr><td>Value</td><td>at most {{MAX_VALUE}} bytes, value and secret together</td></tr>
<tr><td>Keys</td><td>at most {{MAX_ENTRIES}} on the server</td></tr>
<tr><td>Lifetime</td><td>a key expires {{EXPIRE}} after its last write (or sooner, with
<code>X-TTL</code>)</td></tr>
<tr><td>Requests</td><td>{{MAX_REQUESTS}} tokens per client, refilled continuously over
{{RESET}}; a POST, PUT or DELETE costs {{WRITE_COST}} tokens, any other request on a key
{{OTHER_COST}}</td></tr>
</table>
<p>A client is an IPv4 address or an IPv6 /{{IPV6_PREFIX}} network. Answers that cost tokens say
how many you have: <code>RateLimit-Limit</code>, <code>RateLimit-Remaining</code> and
<code>RateLimit-Reset</code> (seconds until the bucket is full). Out of tokens, the answer is
<code>429</code> with a <code>Retry-After</code> header (seconds to wait); a refused request costs
nothing. This page costs nothing either.</p>

<h2>Answers</h2>
<table>
<tr><th>Status</th><th>Body</th><th>Meaning</th></tr>
{{ANSWERS}}</table>
<p>Error bodies are plain text ending in a newline.</p>
</body>
</html>
)html";

constexpr absl::string_view kHostMarker = "{{HOST}}";

// "2 hours", "1 minute", "90 seconds"; other durations in Go-like notation ("1.5s").
std::string DescribeDuration(absl::Duration d) {
  struct Unit {
    absl::Duration length;
    const char* name;
  };
  for (const Unit& unit : {Unit{absl::Hours(1), "hour"}, Unit{absl::Minutes(1), "minute"},
                           Unit{absl::Seconds(1), "second"}}) {
    if (d < unit.length) continue;
    absl::Duration remainder;
    const int64_t count = absl::IDivDuration(d, unit.length, &remainder);
    if (remainder == absl::ZeroDuration()) {
      return absl::StrCat(count, " ", unit.name, count == 1 ? "" : "s");
    }
  }
  return absl::FormatDuration(d);
}

bool IsHostByte(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
         c == '[' || c == ']';
}

// Appends `text` HTML-escaped.
void AppendHtmlEscaped(std::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&#39;");
        break;
      default:
        out.push_back(c);
    }
  }
}

// gzip (RFC 1952) of `data` at the best compression: the page is compressed rarely and served
// often. Returns an empty string if zlib fails (it cannot for in-memory input, short of OOM).
std::string Gzip(std::string_view data) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return {};
  return out;
}

// The rows of the page's table of answers: the successes, then every Error (errors.cc), in status
// order, so that the page can never disagree with what the server sends.
std::string AnswerRows() {
  std::vector<Answer> errors(ErrorAnswers().begin(), ErrorAnswers().end());
  std::stable_sort(errors.begin(), errors.end(),
                   [](const Answer& a, const Answer& b) { return a.status < b.status; });
  std::string rows;
  auto append_row = [&rows](const Answer& answer, bool is_error) {
    absl::StrAppend(&rows, "<tr><td>", answer.status, "</td><td>");
    if (is_error) {
      std::string_view body = answer.body;
      if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      rows.append("<code>");
      AppendHtmlEscaped(body, rows);
      rows.append("</code>");
    } else {
      AppendHtmlEscaped(answer.body, rows);
    }
    rows.append("</td><td>");
    AppendHtmlEscaped(answer.meaning, rows);
    rows.append(answer.closes ? "; the connection closes</td></tr>\n" : "</td></tr>\n");
  };
  for (const Answer& answer : SuccessAnswers()) append_row(answer, false);
  for (const Answer& answer : errors) append_row(answer, true);
  return rows;
}

}  // namespace

IndexPage::IndexPage(const IndexPageOptions& options) {
  const std::string page =
      absl::StrReplaceAll(kTemplate, {{"{{MAX_KEY}}", absl::StrCat(options.max_key_bytes)},
                                      {"{{MAX_VALUE}}", absl::StrCat(options.max_value_bytes)},
                                      {"{{MAX_ENTRIES}}", absl::StrCat(options.max_entries)},
                                      {"{{EXPIRE}}", DescribeDuration(options.expire)},
                                      {"{{MAX_REQUESTS}}", absl::StrCat(options.max_requests)},
                                      {"{{RESET}}", DescribeDuration(options.reset)},
                                      {"{{IPV6_PREFIX}}", absl::StrCat(options.ipv6_prefix_bits)},
                                      {"{{WRITE_COST}}", absl::StrCat(kWriteCostTokens)},
                                      {"{{OTHER_COST}}", absl::StrCat(kOtherCostTokens)},
                                      {"{{ANSWERS}}", AnswerRows()}});
  segments_ = absl::StrSplit(page, kHostMarker);
  for (const std::string& segment : segments_) fixed_bytes_ += segment.size();

  std::string plain;
  RenderPlain(kPlaceholderHost, plain);
  placeholder_gzip_ = Gzip(plain);
  compressions_.fetch_add(1, std::memory_order_relaxed);
}

void IndexPage::Render(std::string_view host, bool accept_gzip, bool head, absl::Time now,
                       Response& response) const {
  const std::string_view shown = DisplayHost(host);
  response.status = 200;
  response.content_type = ContentType::kHtml;
  response.vary_accept_encoding = true;
  response.head = head;
  response.gzip = false;
  if (accept_gzip) {
    const std::string* page = &placeholder_gzip_;
    std::shared_ptr<const std::string> cached;
    if (shown != kPlaceholderHost) {
      cached = CachedGzip(shown, now);
      if (cached != nullptr) page = cached.get();
    }
    if (!page->empty()) {  // empty only if zlib failed: then serve the page uncompressed
      response.gzip = true;
      response.body.assign(*page);
      return;
    }
  }
  RenderPlain(shown, response.body);
}

bool IndexPage::AcceptsGzip(std::string_view accept_encoding) {
  const absl::string_view value(accept_encoding.data(), accept_encoding.size());
  for (absl::string_view element : absl::StrSplit(value, ',')) {
    bool is_coding = true;  // the first ';'-separated part is the coding, the rest parameters
    bool zero_q = false;
    for (absl::string_view part : absl::StrSplit(element, ';')) {
      part = absl::StripAsciiWhitespace(part);
      if (is_coding) {
        if (!absl::EqualsIgnoreCase(part, "gzip") && !absl::EqualsIgnoreCase(part, "x-gzip")) {
          break;
        }
        is_coding = false;
        continue;
      }
      if (part.empty() || absl::ascii_tolower(static_cast<unsigned char>(part[0])) != 'q') {
        continue;
      }
      part.remove_prefix(1);
      part = absl::StripLeadingAsciiWhitespace(part);
      if (!absl::ConsumePrefix(&part, "=")) continue;
      part = absl::StripLeadingAsciiWhitespace(part);
      // qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]: zero when it is "0", "0.", "0.000".
      zero_q = !part.empty() && part[0] == '0' &&
               part.find_first_not_of("0.") == absl::string_view::npos;
    }
    if (!is_coding) return !zero_q;  // gzip was listed: its q decides
  }
  return false;
}

std::string_view IndexPage::DisplayHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostBytes) return kPlaceholderHost;
  for (char c : host) {
    if (!IsHostByte(c)) return kPlaceholderHost;
  }
  return host;
}

void IndexPage::RenderPlain(std::string_view shown_host, std::string& out) const {
  out.clear();
  out.reserve(fixed_bytes_ + (segments_.size() - 1) * shown_host.size());
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (i > 0) AppendHtmlEscaped(shown_host, out);
    out.append(segments_[i]);
  }
}

std::shared_ptr<const std::string> IndexPage::CachedGzip(std::string_view shown_host,
                                                         absl::Time now) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CacheEntry& entry : cache_) {
      if (entry.gzip_page != nullptr && entry.host == shown_host) return entry.gzip_page;
    }
    const int64_t second = absl::ToUnixSeconds(now);
    if (second != budget_second_) {
      budget_second_ = second;
      budget_used_ = 0;
    }
    if (budget_used_ >= kMaxCompressionsPerSecond) return nullptr;
    ++budget_used_;
  }

  // Compress outside the lock: other requests keep being served from the cache meanwhile.
  std::string plain;
  RenderPlain(shown_host, plain);
  auto page = std::make_shared<const std::string>(Gzip(plain));
  compressions_.fetch_add(1, std::memory_order_relaxed);

  std::lock_guard<std::mutex> lock(mu_);
  for (const CacheEntry& entry : cache_) {  // another thread may have filled it meanwhile
    if (entry.gzip_page != nullptr && entry.host == shown_host) return entry.gzip_page;
  }
  CacheEntry& victim = cache_[next_victim_];
  next_victim_ = (next_victim_ + 1) % kCacheEntries;
  victim.host.assign(shown_host.data(), shown_host.size());
  victim.gzip_page = page;
  return page;
}

}  // namespace rendezvous::http

// The index page: template, per-host rendering, gzip and its bounded cache (see index_page.h).
#include "http/index_page.h"

#include <zlib.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "http/errors.h"
#include "http/index_page_html.h"
#include "http/public_origin.h"
#include "http/request_cost.h"
#include "secret/digest.h"

namespace rendezvous::http {
namespace {

// The page (index_page_html.cc) has {{NAME}} placeholders: {{ORIGIN}} is filled per request, the
// rest at start. (absl::string_view: Debian's Abseil string functions do not take
// std::string_view.)
constexpr absl::string_view kOriginMarker = "{{ORIGIN}}";

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

// 'sha256-<base64>' of the text between the first `open` tag and the next `close` tag of `page`:
// what a browser hashes to check an inline element against the Content-Security-Policy.
std::string CspHashOfElement(std::string_view page, std::string_view open, std::string_view close) {
  const size_t begin = page.find(open);
  const size_t end = page.find(close, begin);
  const std::string_view text = page.substr(begin + open.size(), end - begin - open.size());
  const std::array<uint8_t, 32> digest = secret::Sha256(text);
  return absl::StrCat("'sha256-",
                      absl::Base64Escape(absl::string_view(
                          reinterpret_cast<const char*>(digest.data()), digest.size())),
                      "'");
}

std::string DescribeKeysPerClient(size_t max_keys_per_client) {
  if (max_keys_per_client == 0) return "no limit on the keys one client creates";
  return absl::StrCat("at most ", max_keys_per_client,
                      " live keys created by one client; past that a new key is refused with "
                      "<code>429</code> until one of them expires or is deleted");
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
  const std::string page = absl::StrReplaceAll(
      absl::string_view(kIndexPageTemplate.data(), kIndexPageTemplate.size()),
      {{"{{STYLE}}", absl::string_view(kIndexPageStyle.data(), kIndexPageStyle.size())},
       {"{{SCRIPT}}", absl::string_view(kIndexPageScript.data(), kIndexPageScript.size())},
       {"{{KEYS_PER_CLIENT}}", DescribeKeysPerClient(options.max_keys_per_client)},
       {"{{MAX_KEY}}", absl::StrCat(options.max_key_bytes)},
       {"{{MAX_VALUE}}", absl::StrCat(options.max_value_bytes)},
       {"{{MAX_ENTRIES}}", absl::StrCat(options.max_entries)},
       {"{{EXPIRE}}", DescribeDuration(options.expire)},
       {"{{MAX_WAIT}}", DescribeDuration(options.max_wait)},
       {"{{MAX_REQUESTS}}", absl::StrCat(options.max_requests)},
       {"{{RESET}}", DescribeDuration(options.reset)},
       {"{{IPV6_PREFIX}}", absl::StrCat(options.ipv6_prefix_bits)},
       {"{{WRITE_COST}}", absl::StrCat(kWriteCostTokens)},
       {"{{OTHER_COST}}", absl::StrCat(kOtherCostTokens)},
       {"{{ANSWERS}}", AnswerRows()}});
  segments_ = absl::StrSplit(page, kOriginMarker);
  for (const std::string& segment : segments_) fixed_bytes_ += segment.size();
  headers_ = absl::StrCat(
      "Content-Security-Policy: default-src 'none'; script-src ",
      CspHashOfElement(page, "<script>", "</script>"), "; style-src ",
      CspHashOfElement(page, "<style>", "</style>"),
      "; img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
      "base-uri 'none'\r\n"
      "Cache-Control: public, max-age=300\r\n"
      "Vary: Host, X-Forwarded-Proto, X-Forwarded-Host, Forwarded\r\n");

  std::string plain;
  RenderPlain(kPlaceholderHost, /*https=*/false, plain);
  placeholder_gzip_ = Gzip(plain);
  compressions_.fetch_add(1, std::memory_order_relaxed);
}

void IndexPage::Render(std::string_view host, bool https, bool accept_gzip, bool head,
                       absl::Time now, Response& response) const {
  const std::string_view shown = DisplayHost(host);
  response.status = 200;
  response.content_type = ContentType::kHtml;
  response.vary_accept_encoding = true;
  response.head = head;
  response.gzip = false;
  response.extra_headers.append(headers_);
  if (accept_gzip) {
    const std::string* page = &placeholder_gzip_;
    std::shared_ptr<const std::string> cached;
    if (shown != kPlaceholderHost || https) {
      cached = CachedGzip(shown, https, now);
      if (cached != nullptr) page = cached.get();
    }
    if (!page->empty()) {  // empty only if zlib failed: then serve the page uncompressed
      response.gzip = true;
      response.body.assign(*page);
      return;
    }
  }
  RenderPlain(shown, https, response.body);
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
  static_assert(kMaxHostBytes == 255, "IsPlausibleHost's bound");
  return IsPlausibleHost(host) ? host : kPlaceholderHost;
}

void IndexPage::RenderPlain(std::string_view shown_host, bool https, std::string& out) const {
  const std::string_view scheme = https ? "https://" : "http://";
  out.clear();
  out.reserve(fixed_bytes_ + (segments_.size() - 1) * (scheme.size() + shown_host.size()));
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (i > 0) {
      out.append(scheme);
      AppendHtmlEscaped(shown_host, out);
    }
    out.append(segments_[i]);
  }
}

std::shared_ptr<const std::string> IndexPage::CachedGzip(std::string_view shown_host, bool https,
                                                         absl::Time now) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CacheEntry& entry : cache_) {
      if (entry.gzip_page != nullptr && entry.https == https && entry.host == shown_host) {
        return entry.gzip_page;
      }
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
  RenderPlain(shown_host, https, plain);
  auto page = std::make_shared<const std::string>(Gzip(plain));
  compressions_.fetch_add(1, std::memory_order_relaxed);

  std::lock_guard<std::mutex> lock(mu_);
  for (const CacheEntry& entry : cache_) {  // another thread may have filled it meanwhile
    if (entry.gzip_page != nullptr && entry.https == https && entry.host == shown_host) {
      return entry.gzip_page;
    }
  }
  CacheEntry& victim = cache_[next_victim_];
  next_victim_ = (next_victim_ + 1) % kCacheEntries;
  victim.https = https;
  victim.host.assign(shown_host.data(), shown_host.size());
  victim.gzip_page = page;
  return page;
}

}  // namespace rendezvous::http

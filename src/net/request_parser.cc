#include "net/request_parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace rendezvous::net {
namespace {

namespace bhttp = boost::beast::http;

std::string_view View(boost::beast::string_view v) { return {v.data(), v.size()}; }

http::Method MethodFor(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get: return http::Method::kGet;
    case bhttp::verb::head: return http::Method::kHead;
    case bhttp::verb::post: return http::Method::kPost;
    case bhttp::verb::put: return http::Method::kPut;
    case bhttp::verb::delete_: return http::Method::kDelete;
    case bhttp::verb::options: return http::Method::kOptions;
    default: return http::Method::kOther;
  }
}

// Trims optional whitespace (SP / HTAB) around a field value. Beast already drops it around the
// value; this guards values such as the owner secret against any left (Go trims them too).
std::string_view TrimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Appends one line of a list-valued field to the lines seen before, joined with ','.
void AppendListLine(std::string_view line, std::string& joined) {
  if (!joined.empty()) joined.push_back(',');
  joined.append(line);
}

// Whether the field line named `name` is continued on the next line (obsolete line folding).
// Beast 1.74 unfolds such lines silently, but `name` points into the raw input, and before it
// calls on_field_impl Beast has examined the bytes from the name to the CRLF ending the field's
// first line (the first control character after the colon other than HTAB is that CR; any other
// fails the parse) and one byte past the CRLF (its test for a fold). Only those bytes are read.
bool ContinuesOnNextLine(boost::beast::string_view name) {
  const char* p = name.data() + name.size() + 1;  // past the colon
  while (*p != '\r') ++p;
  return p[2] == ' ' || p[2] == '\t';
}

// RFC 9112 3.2: Host is uri-host [":" port]; uri-host is an IP literal in brackets, a dotted quad
// or a reg-name (unreserved, pct-encoded, sub-delims). Anything else (spaces, quotes, angle
// brackets, control bytes) is an invalid field value, which a server must refuse with 400.
// A table of the allowed bytes: every request carries a Host, and a search of the punctuation
// string per byte cost about 400 instructions for "127.0.0.1:8080".
constexpr std::array<bool, 256> kHostByte = [] {
  std::array<bool, 256> allowed{};
  for (int c = 'a'; c <= 'z'; ++c) allowed[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = true;
  for (int c = '0'; c <= '9'; ++c) allowed[c] = true;
  for (const char c : std::string_view("-._~%!$&'()*+,;=:[]")) {
    allowed[static_cast<unsigned char>(c)] = true;
  }
  return allowed;
}();

bool IsValidHost(std::string_view host) {
  for (const char c : host) {
    if (!kHostByte[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Whether the field name `name` is `lower` (lower-case letters and '-') in any letter case.
// OR-ing 0x20 into a byte maps 'A'-'Z' to 'a'-'z' and nothing else onto a lower-case letter, and
// maps only '-' and CR onto '-'; Beast passes only token bytes in a name, never CR, so this is
// an exact case-insensitive comparison. Eight bytes at a time (the last word overlaps the one
// before it): wrk's and a proxy's X-Forwarded-For is compared in two loads instead of a
// byte-by-byte tolower loop of ~150 instructions.
bool IsFieldName(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  const size_t n = name.size();
  if (n < sizeof(uint64_t)) {
    for (size_t i = 0; i < n; ++i) {
      if ((static_cast<unsigned char>(name[i]) | 0x20) != static_cast<unsigned char>(lower[i])) {
        return false;
      }
    }
    return true;
  }
  constexpr uint64_t kCaseBits = 0x2020202020202020ULL;
  auto word_at = [](std::string_view s, size_t i) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof(w));
    return w;
  };
  for (size_t i = 0;; i += sizeof(uint64_t)) {
    const size_t at = std::min(i, n - sizeof(uint64_t));
    if ((word_at(name, at) | kCaseBits) != word_at(lower, at)) return false;
    if (at == n - sizeof(uint64_t)) return true;
  }
}

}  // namespace

void RequestFields::Clear() {
  method = http::Method::kOther;
  method_text.clear();
  target.clear();
  version = 11;
  host.clear();
  host_count = 0;
  expect_continue = false;
  transfer_encoding_not_chunked = false;
  transfer_encoding_unsupported = false;
  target_too_long = false;
  for (FirstLine* f : {&owner_secret, &accept_encoding, &if_match, &if_none_match, &ttl, &origin,
                       &if_modified_since}) {
    f->Clear();
  }
  forwarded_for.clear();
  prefer.clear();
  forwarded_proto.clear();
  forwarded_host.clear();
  forwarded.clear();
  body.clear();
}

void RequestFields::FillRequest(http::Request& request) const {
  request.method = method;
  request.method_text = method_text;
  request.target = target;
  request.version = version;
  request.host = host;
  request.has_owner_secret = owner_secret.seen && !owner_secret.value.empty();
  request.owner_secret = owner_secret.value;
  request.accept_encoding = accept_encoding.value;
  request.if_match = if_match.value;
  request.if_none_match = if_none_match.value;
  request.if_modified_since = if_modified_since.value;
  request.ttl = ttl.value;
  request.origin = origin.value;
  request.forwarded_for = forwarded_for;
  request.prefer = prefer;
  request.body = body;
}

RequestParser::RequestParser(RequestFields& fields, size_t header_limit_bytes,
                             size_t body_limit_bytes, size_t max_target_bytes)
    : fields_(fields),
      header_limit_bytes_(header_limit_bytes),
      max_target_bytes_(max_target_bytes == 0 ? header_limit_bytes : max_target_bytes) {
  fields_.Clear();
  // Beast applies one limit to the bytes it looks at for the request-line and then for the
  // fields; the request-line gets room for the longest target (plus method and version), the
  // fields get header_limit_bytes again in on_request_impl.
  header_limit(static_cast<std::uint32_t>(std::max(header_limit_bytes, max_target_bytes_ + 64)));
  body_limit(body_limit_bytes);
  // Stop after the header so the session can answer `Expect: 100-continue` and check limits
  // before any body byte is accepted.
  eager(false);
}

void RequestParser::on_request_impl(bhttp::verb method, string_view method_str, string_view target,
                                    int version, error_code& ec) {
  fields_.method = MethodFor(method);
  // Beast maps methods case-insensitively? No: verb matching is exact, but be explicit: only the
  // upper-case spelling is the method (a lower-case "post" is some other method).
  if (fields_.method != http::Method::kOther && method_str != bhttp::to_string(method)) {
    fields_.method = http::Method::kOther;
  }
  request_line_done_ = true;
  header_limit(static_cast<std::uint32_t>(header_limit_bytes_));
  if (target.size() > max_target_bytes_) {
    fields_.target_too_long = true;
    ec = bhttp::error::bad_target;
    return;
  }
  fields_.method_text.assign(method_str.data(), method_str.size());
  fields_.target.assign(target.data(), target.size());
  fields_.version = version;
  if (!wide_prefix_.empty()) {
    // The path of an origin-form target is the target; of an absolute-form one, what follows
    // the authority.
    std::string_view path(target.data(), target.size());
    if (!path.starts_with('/')) {
      const size_t scheme_end = path.find("://");
      const size_t slash =
          scheme_end == path.npos ? path.npos : path.find('/', scheme_end + 3);
      path = slash == path.npos ? std::string_view() : path.substr(slash);
    }
    if (path.starts_with(wide_prefix_)) body_limit(wide_limit_bytes_);
  }
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = bhttp::error::bad_method;  // unreachable for a request parser
}

void RequestParser::on_field_impl(bhttp::field name, string_view name_string, string_view value,
                                  error_code& ec) {
  if (ContinuesOnNextLine(name_string)) {
    ec = bhttp::error::bad_value;  // RFC 9112 5.2 lets a server refuse it: a proxy may not unfold
    return;
  }
  // A trailer field (after a chunked body): ignored, never merged into the header.
  if (is_header_done()) return;
  const std::string_view v = TrimOws(View(value));
  switch (name) {
    case bhttp::field::content_length:
      // Beast accepts agreeing duplicates (two lines, or a list "5, 5"); RFC 9112 6.3 lets a
      // server refuse them, and a proxy in front may have framed the body by another rule.
      if (content_length_seen_ || v.find(',') != std::string_view::npos) {
        ec = bhttp::error::bad_content_length;
        return;
      }
      content_length_seen_ = true;
      return;
    case bhttp::field::host:
      if (!IsValidHost(v)) {
        ec = bhttp::error::bad_value;
        return;
      }
      ++fields_.host_count;
      if (fields_.host_count == 1) fields_.host.assign(v);
      return;
    case bhttp::field::expect:
      if (boost::beast::iequals(value, "100-continue")) fields_.expect_continue = true;
      return;
    case bhttp::field::transfer_encoding: {
      // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (an HTTP/1.0
      // proxy in front reads its body by Content-Length or up to the close).
      if (fields_.version < 11) {
        ec = bhttp::error::bad_transfer_encoding;
        return;
      }
      // Beast takes a request whose final coding is not "chunked" as having no body, which a
      // front proxy may read differently (request smuggling), and it does not decode other
      // codings. RFC 9112 6.1: not-final chunked -> 400 and close; unknown coding -> 501.
      std::string_view rest = v;
      const size_t comma = rest.rfind(',');
      const std::string_view last = TrimOws(comma == rest.npos ? rest : rest.substr(comma + 1));
      if (!boost::beast::iequals(string_view(last.data(), last.size()), "chunked")) {
        fields_.transfer_encoding_not_chunked = true;
      } else if (comma != rest.npos) {
        fields_.transfer_encoding_unsupported = true;
      }
      return;
    }
    case bhttp::field::accept_encoding: fields_.accept_encoding.Set(v); return;
    case bhttp::field::if_match: fields_.if_match.Set(v); return;
    case bhttp::field::if_none_match: fields_.if_none_match.Set(v); return;
    case bhttp::field::if_modified_since: fields_.if_modified_since.Set(v); return;
    case bhttp::field::origin: fields_.origin.Set(v); return;
    case bhttp::field::forwarded: AppendListLine(v, fields_.forwarded); return;
    case bhttp::field::prefer:
      if (!fields_.prefer.empty()) fields_.prefer.push_back(',');
      fields_.prefer.append(v);
      return;
    default: break;
  }
  // Beast 1.74 has no enum value for these: compare the name (case-insensitively), but only for
  // names Beast does not know (every other known field, e.g. User-Agent, is ignored without a
  // comparison). The five names have five lengths: one comparison at most.
  if (name != bhttp::field::unknown) return;
  switch (name_string.size()) {
    case 14:
      if (IsFieldName(View(name_string), "x-owner-secret")) fields_.owner_secret.Set(v);
      return;
    case 15:
      if (IsFieldName(View(name_string), "x-forwarded-for")) {
        AppendListLine(v, fields_.forwarded_for);
      }
      return;
    case 5:
      if (IsFieldName(View(name_string), "x-ttl")) fields_.ttl.Set(v);
      return;
    case 17:
      if (IsFieldName(View(name_string), "x-forwarded-proto")) {
        AppendListLine(v, fields_.forwarded_proto);
      }
      return;
    case 16:
      if (IsFieldName(View(name_string), "x-forwarded-host")) {
        AppendListLine(v, fields_.forwarded_host);
      }
      return;
    default: return;
  }
}

void RequestParser::on_header_impl(error_code& ec) {}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code& ec) {
  // content_length is already checked against body_limit by Beast.
  if (content_length) fields_.body.reserve(static_cast<size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code& ec) {
  fields_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, string_view, error_code& ec) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
  fields_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(error_code& ec) {}

}  // namespace rendezvous::net

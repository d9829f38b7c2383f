// Parsing of Prefer: wait=N and ?wait=N. See wait.h for the rules.
#include "http/wait.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace rendezvous::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A whole number of seconds, 1 to 9 digits (about 31 years: far over any cap, no overflow).
WaitAsked Seconds(std::string_view value) {
  WaitAsked result;
  result.asked = true;
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (value.empty() || value.size() > 9) {
    result.malformed = true;
    return result;
  }
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      result.malformed = true;
      return result;
    }
    n = n * 10 + (c - '0');
  }
  result.duration = absl::Seconds(n);
  return result;
}

std::optional<WaitAsked> FromQuery(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  const size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.starts_with("wait=")) return Seconds(param.substr(5));
    if (param == "wait") return Seconds("");
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

WaitAsked ParseWait(std::string_view prefer, std::string_view target) {
  if (std::optional<WaitAsked> from_query = FromQuery(target)) return *from_query;
  // A quoted-string may hold ',' or ';', but only inside a value; the wait value this looks for
  // never does, so a naive split can only misread other preferences, which are ignored.
  while (!prefer.empty()) {
    const size_t comma = prefer.find(',');
    std::string_view preference = prefer.substr(0, comma);
    preference = Trim(preference.substr(0, preference.find(';')));  // parameters are ignored
    const size_t eq = preference.find('=');
    const std::string_view name = Trim(preference.substr(0, eq));
    if (absl::EqualsIgnoreCase(absl::string_view(name.data(), name.size()), "wait")) {
      return Seconds(eq == std::string_view::npos ? std::string_view()
                                                  : Trim(preference.substr(eq + 1)));
    }
    if (comma == std::string_view::npos) break;
    prefer.remove_prefix(comma + 1);
  }
  return WaitAsked{};
}

}  // namespace rendezvous::http

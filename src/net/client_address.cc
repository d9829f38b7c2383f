// Client address resolution: trusted proxies and the right-to-left X-Forwarded-For walk.
#include "net/client_address.h"

namespace rendezvous::net {
namespace {

// By hand rather than find_first_not_of(" \t"): on every forwarded entry of every request, and
// the generic search costs ~80 instructions for an entry with nothing to trim.
std::string_view TrimSpacesAndTabs(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

ProxyPolicy ProxyPolicy::Default() {
  std::string error;
  std::optional<std::vector<common::CidrBlock>> blocks =
      ParseCidrList(kDefaultTrustedProxies, &error);
  // The list is a constant that tests parse; an empty policy (trust nobody) would be the safe
  // fallback if it ever did not.
  return ProxyPolicy{blocks ? *std::move(blocks) : std::vector<common::CidrBlock>{}};
}

bool ProxyPolicy::IsTrusted(const common::IpAddress& address) const {
  for (const common::CidrBlock& block : trusted) {
    if (block.Contains(address)) return true;
  }
  return false;
}

std::optional<std::vector<common::CidrBlock>> ParseCidrList(std::string_view comma_separated,
                                                            std::string* error) {
  std::vector<common::CidrBlock> blocks;
  if (TrimSpacesAndTabs(comma_separated).empty()) return blocks;
  std::string_view rest = comma_separated;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view entry = TrimSpacesAndTabs(rest.substr(0, comma));
    std::optional<common::CidrBlock> block = common::CidrBlock::Parse(entry);
    if (!block) {
      if (error != nullptr) {
        *error = entry.empty() ? std::string("empty entry in the list of CIDR blocks")
                               : "not a CIDR block or address: \"" + std::string(entry) + "\"";
      }
      return std::nullopt;
    }
    blocks.push_back(*block);
    if (comma == std::string_view::npos) return blocks;
    rest.remove_prefix(comma + 1);
  }
}

ClientResolution ResolveClient(const common::IpAddress& peer,
                               absl::Span<const std::string_view> xff_lines,
                               const ProxyPolicy& policy) {
  ClientResolution result{peer, false};
  if (!policy.IsTrusted(peer)) return result;

  int examined = 0;
  for (auto line = xff_lines.rbegin(); line != xff_lines.rend(); ++line) {
    std::string_view rest = *line;
    // Each line is split from the right; a line without commas is one entry, an empty line is
    // one empty entry (as it would be after joining the lines with commas).
    while (true) {
      if (examined++ == kMaxForwardedEntries) return result;
      const size_t comma = rest.rfind(',');
      const std::string_view entry =
          TrimSpacesAndTabs(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      std::optional<common::IpAddress> address = common::IpAddress::Parse(entry);
      if (!address) return result;  // empty or malformed: the last trusted hop is the client
      result = {*address, true};
      if (!policy.IsTrusted(*address)) return result;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(0, comma);
    }
  }
  return result;
}

}  // namespace rendezvous::net

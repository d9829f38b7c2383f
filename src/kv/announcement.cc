// Announcement keys and listing samples (see announcement.h).
#include "kv/announcement.h"

#include "common/ip_address.h"

namespace rendezvous::kv {
namespace {

// splitmix64: a good 64-bit mix and a small, fast generator.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class SplitMix {
 public:
  // Mixed first, so that neighbouring seeds (a counter) start unrelated sequences.
  explicit SplitMix(uint64_t seed) : state_(Mix(seed)) {}
  uint64_t Next() { return Mix(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, bound) (bound > 0); the modulo bias is below 2^-32 for the bounds used here.
  uint64_t Below(uint64_t bound) { return Next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace

std::optional<Announcement> ParseAnnouncement(std::string_view key) {
  if (!key.starts_with(kAnnouncementPrefix)) return std::nullopt;
  const std::string_view rest = key.substr(kAnnouncementPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return std::nullopt;
  }
  const std::string_view address = rest.substr(0, slash);
  // Longest canonical text: an IPv6 address with every group written, 39 characters.
  if (address.size() > 39) return std::nullopt;
  const std::optional<common::IpAddress> parsed = common::IpAddress::Parse(address);
  if (!parsed || parsed->ToString() != address) return std::nullopt;
  return Announcement{address, rest.substr(slash + 1)};
}

std::string AnnouncementKey(std::string_view address, std::string_view name) {
  std::string key;
  key.reserve(kAnnouncementPrefix.size() + address.size() + 1 + name.size());
  key.append(kAnnouncementPrefix).append(address).append(1, '/').append(name);
  return key;
}

std::vector<uint32_t> SampleIndices(uint64_t count, uint32_t limit, uint64_t seed) {
  std::vector<uint32_t> chosen;
  const uint64_t keep = count < limit ? count : limit;
  chosen.reserve(keep);
  for (uint64_t i = 0; i < keep; ++i) chosen.push_back(static_cast<uint32_t>(i));
  if (count <= limit || limit == 0) return chosen;
  // Algorithm R: the i-th element replaces a kept one with probability limit / (i + 1).
  SplitMix random(seed);
  for (uint64_t i = limit; i < count; ++i) {
    const uint64_t j = random.Below(i + 1);
    if (j < limit) chosen[j] = static_cast<uint32_t>(i);
  }
  return chosen;
}

uint64_t AddToFingerprint(uint64_t fingerprint, uint64_t version) {
  return fingerprint + Mix(version ^ 0x6c697374ULL);
}

}  // namespace rendezvous::kv

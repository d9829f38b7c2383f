// Announcements: which keys take part in listings (GET /ip/*/NAME), decided once for every engine.
//
// An announcement is a key "ip/<address>/<NAME>" exactly as the HTTP layer's /ip/ rewrite builds
// it: the second segment is an IP address in its canonical text (common::IpAddress::ToString, so
// "127.0.0.01" or "::FFFF:1.2.3.4" are not) and NAME is everything after the slash that ends it,
// non-empty, slashes included ("ip/1.2.3.4/a/b" announces the name "a/b"). Every engine keeps an
// index name -> addresses of the records under such keys, changed in the same atomic step as the
// records themselves, so a listing never scans the store.
//
// The sample a listing answers is drawn by SampleIndices from a seed the caller draws, so that
// engines stay deterministic under test.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rendezvous::kv {

inline constexpr std::string_view kAnnouncementPrefix = "ip/";

struct Announcement {
  std::string_view address;  // canonical text; a view into the key
  std::string_view name;     // non-empty; a view into the key
};

// The announcement `key` makes, or nullopt when it is no announcement. Cheap for keys that do not
// start with "ip/" (one comparison).
[[nodiscard]] std::optional<Announcement> ParseAnnouncement(std::string_view key);

// The key that announces `name` from `address`: "ip/<address>/<name>".
[[nodiscard]] std::string AnnouncementKey(std::string_view address, std::string_view name);

// Chooses min(limit, count) distinct indices of [0, count) uniformly at random (reservoir
// sampling, O(count) time, O(limit) memory), from the pseudo-random sequence `seed` starts.
// All of them, in order, when count <= limit.
[[nodiscard]] std::vector<uint32_t> SampleIndices(uint64_t count, uint32_t limit, uint64_t seed);

// An order-independent fingerprint of a set of entry versions: the sum of a 64-bit mix of each.
// Versions are unique across a store's writes, so two listings with the same fingerprint hold the
// same writes (up to a 2^-64 chance). Add one version at a time, starting from 0.
[[nodiscard]] uint64_t AddToFingerprint(uint64_t fingerprint, uint64_t version);

}  // namespace rendezvous::kv

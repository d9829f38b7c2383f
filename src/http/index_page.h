// IndexPage: the HTML page served at "/", documenting the API with this server's limits and curl
// examples that use the origin the browser asked for, plus a small form that stores and reads a
// key with fetch.
//
// Everything but the origin is rendered once, at construction, from the configured limits. Per
// request only the origin (the scheme, and the host if it is a plausible host name, else
// kPlaceholderHost; see public_origin.h for a proxy's say in both) is spliced in, which is a few
// appends. The expensive part is gzip, and "/" is not rate-limited,
// so compressed pages are cached per host, and compression work is bounded:
//   - the page for kPlaceholderHost is compressed once, at construction;
//   - up to kCacheEntries other hosts' compressed pages are cached (round-robin replacement);
//   - at most kMaxCompressionsPerSecond cache fills happen per second of the clock passed to
//     Render. A request that misses the cache once the budget is spent gets the placeholder page.
// So a flood of random Host values costs at most kMaxCompressionsPerSecond compressions of one
// page (9 KB; about 100 us each) per second, whatever its rate, and a fixed
// amount of memory; its only effect on others is that they may see "your-server" in the examples.
//
// Thread-safety: one IndexPage serves all threads; Render may be called concurrently (the cache
// is guarded by a mutex that is never held while compressing).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "http/response.h"

namespace rendezvous::http {

// The limits the page shows (the configured ones).
struct IndexPageOptions {
  size_t max_key_bytes = 100;               // -maxKeySize
  size_t max_value_bytes = 1000;            // -maxValueSize
  size_t max_entries = 100000;              // -maxNumKV
  absl::Duration expire = absl::Hours(2);   // -expireDuration
  absl::Duration max_wait = absl::Seconds(60);  // -maxWait
  absl::Duration reset = absl::Minutes(1);  // -resetDuration
  int64_t max_requests = 11;                // -maxRequests
  int ipv6_prefix_bits = 64;                // rate-limit granularity for IPv6
  size_t max_keys_per_client = 250;         // -maxKeysPerIP (0: no quota)
};

class IndexPage {
 public:
  static constexpr std::string_view kPlaceholderHost = "your-server";
  static constexpr size_t kMaxHostBytes = 255;
  static constexpr size_t kCacheEntries = 16;
  static constexpr int kMaxCompressionsPerSecond = 16;

  explicit IndexPage(const IndexPageOptions& options);

  IndexPage(const IndexPage&) = delete;
  IndexPage& operator=(const IndexPage&) = delete;

  // Fills `response` with the page for `host` (untrusted) and scheme (`https`): status 200,
  // text/html, Vary: Accept-Encoding, gzip-encoded when `accept_gzip`. `head` sets response.head
  // (the body is still filled, so Content-Length is the GET's). `now` only drives the
  // compression budget. Appends headers() to extra_headers; does not touch response.close.
  void Render(std::string_view host, bool https, bool accept_gzip, bool head, absl::Time now,
              Response& response) const;

  // The header lines every page answer carries, each ending in CRLF: Content-Security-Policy
  // (only this page's own inline style and script, by hash; fetch to the same origin; images
  // from data: URLs, for the icon; no frames, forms, base or plug-ins), Cache-Control (five
  // minutes: the page changes only with the configuration), and Vary on the request headers the
  // examples' origin comes from.
  const std::string& headers() const { return headers_; }

  // Whether an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip") coding, any case, whose
  // q is not zero. "*" is not taken as gzip.
  static bool AcceptsGzip(std::string_view accept_encoding);

  // The host the page shows: `host` when IsPlausibleHost (public_origin.h), else
  // kPlaceholderHost. Such a host needs no HTML or shell escaping, though it is escaped anyway.
  static std::string_view DisplayHost(std::string_view host);

  // Compressions done since construction, the placeholder page's included (for tests).
  int64_t compressions() const { return compressions_.load(std::memory_order_relaxed); }

 private:
  struct CacheEntry {
    bool https = false;
    std::string host;
    std::shared_ptr<const std::string> gzip_page;  // null: free slot
  };

  // Writes the uncompressed page for `shown_host` (already a DisplayHost) into `out`.
  void RenderPlain(std::string_view shown_host, bool https, std::string& out) const;
  // The cached compressed page for `shown_host`, filling the cache when the budget allows;
  // null when it does not.
  std::shared_ptr<const std::string> CachedGzip(std::string_view shown_host, bool https,
                                                absl::Time now) const;

  // The page is segments_[0] + origin + segments_[1] + origin + ... + segments_.back().
  std::vector<std::string> segments_;
  size_t fixed_bytes_ = 0;        // total size of segments_
  std::string placeholder_gzip_;  // http://your-server
  std::string headers_;

  // std::mutex rather than absl::Mutex: Debian's prebuilt Abseil is not instrumented, so
  // ThreadSanitizer cannot see absl::Mutex's synchronization and reports false races.
  mutable std::mutex mu_;
  // Guarded by mu_:
  mutable std::array<CacheEntry, kCacheEntries> cache_;
  mutable size_t next_victim_ = 0;
  mutable int64_t budget_second_ = 0;  // Unix second of the current budget
  mutable int budget_used_ = 0;
  mutable std::atomic<int64_t> compressions_{0};
};

}  // namespace rendezvous::http

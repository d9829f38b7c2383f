// AccessLog: one line per answered request (-accessLog), written in large buffered chunks.
//
// Line format (space-separated, one request per line, newline-terminated):
//   2026-11-30T18:21:52.535Z 203.0.113.7 GET "/some%20key" 200 5 123
// time the answer was complete (RFC 3339, UTC, milliseconds), client address (after trusted-proxy
// resolution), method (GET, HEAD, POST, PUT, DELETE, OPTIONS or OTHER), the request-target's path
// as sent (query cut off; escaped with common::EscapeForLog and cut at kMaxLoggedPathBytes, so a
// client can neither forge a line nor make it huge), status, body bytes sent (0 for HEAD), and
// the duration in microseconds (as the request metrics count it). Nothing else: no header value,
// no secret, no body.
//
// Buffering: each line is appended to one of kStatsShards buffers (the calling thread's stats
// shard: I/O threads do not share one), under that buffer's own, uncontended lock. A buffer is
// written out with one write(2) when it passes kFlushBytes, and every buffer at least once per
// kFlushInterval by a flusher thread, so there is no syscall per request and a line shows up
// within about a second. Writes hold a file lock and contain whole lines only: lines never
// interleave. Lines of different threads may appear slightly out of time order.
//
// Reopen() (on SIGHUP) flushes, then opens the path again (O_APPEND|O_CREAT, mode 0640) and
// swaps descriptors: after logrotate renamed the file, new lines go to the new file. "-" means
// stderr, which is never reopened.
//
// Thread-safety: Record from any thread; Reopen and Flush from any thread.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/time/time.h"
#include "common/ip_address.h"
#include "common/stats.h"
#include "http/request.h"

namespace rendezvous::http {

inline constexpr size_t kMaxLoggedPathBytes = 200;

struct AccessRecord {
  absl::Time time;  // when the answer was complete
  const common::IpAddress* client = nullptr;
  Method method = Method::kOther;
  std::string_view path;  // raw, as sent
  int status = 0;
  size_t body_bytes = 0;
  int64_t duration_nanos = 0;
};

class AccessLog {
 public:
  static constexpr size_t kFlushBytes = 32 * 1024;
  static constexpr absl::Duration kFlushInterval = absl::Seconds(1);

  // Opens `path` ("-": stderr) and starts the flusher, which writes every buffer each
  // `flush_interval` (absl::InfiniteDuration(): no flusher; unit tests call Flush). Null with a
  // one-line `error` naming the path when the file cannot be opened.
  static std::unique_ptr<AccessLog> Open(const std::string& path, std::string* error,
                                         absl::Duration flush_interval = kFlushInterval);
  // Flushes every buffer and closes the file.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void Record(const AccessRecord& record);
  // Writes every buffered line now.
  void Flush();
  // Flushes, then reopens the path. False with `error` when it cannot be opened (the old file
  // stays in use).
  [[nodiscard]] bool Reopen(std::string* error);

  // The line Record appends, with its newline (for tests).
  static void AppendLine(const AccessRecord& record, std::string& out);

 private:
  AccessLog(std::string path, int fd, absl::Duration flush_interval);
  void FlusherLoop();
  // Writes `bytes` (whole lines) to the file; under file_mutex_.
  void WriteOut(std::string_view bytes);

  // The formatted date and time of one second ("2026-11-30T18:21:52"): lines of the same second
  // reuse it instead of formatting the time again.
  struct SecondCache {
    int64_t unix_seconds = -1;
    std::string text;
  };
  static void AppendLine(const AccessRecord& record, SecondCache& cache, std::string& out);

  struct alignas(64) Buffer {
    std::mutex mutex;
    std::string lines;   // guarded by mutex
    SecondCache second;  // guarded by mutex
  };

  const std::string path_;
  std::mutex file_mutex_;
  int fd_;  // guarded by file_mutex_ (swapped by Reopen)
  std::array<Buffer, common::kStatsShards> buffers_;
  const absl::Duration flush_interval_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mutex_
  std::thread flusher_;
};

}  // namespace rendezvous::http

// Logging: one line per message on stderr, prefixed with a UTC timestamp and a level.
//
// Abseil 20220623 has no absl/log, so this is the project's small logger. It is deliberately
// plain: no levels to configure, no sinks, no formatting language; callers build the message
// with absl::StrCat and pass anything that came from a client through EscapeForLog first.
//
// Thread-safety: LogInfo/LogWarning/LogError may be called from any thread. Each call writes its
// whole line with a single fwrite under one process-wide mutex, so lines from different threads
// never interleave. That mutex is the only shared mutable state in the logger (it guards stderr,
// which is process-wide anyway). EscapeForLog and FormatLogLine are pure. LogThrottle is
// thread-safe (lock-free).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace rendezvous::common {

enum class LogLevel { kInfo, kWarning, kError };

// Writes "<UTC time> <LEVEL> <message>\n" to stderr, e.g.
// "2023-11-14T22:13:20.000000Z INFO listening on [::]:8080". As a last line of defence, control
// bytes in `message` (which should not be there: see EscapeForLog) are written as \xNN, so a
// message is always exactly one line. The timestamp is read from the real clock (absl::Now).
void LogInfo(std::string_view message);
void LogWarning(std::string_view message);
void LogError(std::string_view message);

// The line LogInfo & co. write, without the trailing newline. Exposed for tests.
std::string FormatLogLine(LogLevel level, absl::Time time, std::string_view message);

// Renders untrusted bytes (a key, a header value) safe to put in a log line: printable ASCII
// (0x20..0x7e) passes through, except backslash and double quote; \n, \r, \t, \\ and \" use their
// short escapes; every other byte becomes \xNN (lower-case hex). The output is at most
// `max_bytes` characters plus "..." when the input did not fit (an escape is never cut in half),
// so a client can neither forge log lines nor make them huge.
std::string EscapeForLog(std::string_view bytes, size_t max_bytes = 200);

// Rate-limits a recurring log message (say, "rate limit table is evicting") so that a flood of
// events cannot flood the log. ShouldLog returns true at most once per `interval`; the first call
// returns true. Calls that return false are counted; TakeSuppressedCount returns that count and
// resets it, so the next logged line can say how many were dropped.
//
// Thread-safety: all methods may be called concurrently (atomics only). If two threads race at
// the moment an interval ends, exactly one of them gets true.
class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration interval);
  LogThrottle(const LogThrottle&) = delete;
  LogThrottle& operator=(const LogThrottle&) = delete;

  bool ShouldLog(absl::Time now);
  int64_t TakeSuppressedCount();

 private:
  const int64_t interval_nanos_;
  std::atomic<int64_t> next_allowed_unix_nanos_;
  std::atomic<int64_t> suppressed_{0};
};

}  // namespace rendezvous::common

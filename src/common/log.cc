// Logging to stderr: formatting, escaping and throttling.
#include "common/log.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <mutex>

#include "absl/base/attributes.h"
#include "absl/time/clock.h"

namespace rendezvous::common {
namespace {

// Serializes writes to stderr (see the header: the logger's only shared state). A std::mutex
// (constant-initialized) because Debian's Abseil is not built for ThreadSanitizer, which then
// cannot see absl::Mutex's synchronization.
ABSL_CONST_INIT std::mutex stderr_mutex;

constexpr char kHexDigits[] = "0123456789abcdef";

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

void AppendHexEscape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xf];
}

void Write(LogLevel level, std::string_view message) {
  std::string line = FormatLogLine(level, absl::Now(), message);
  line += '\n';
  std::lock_guard<std::mutex> lock(stderr_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string FormatLogLine(LogLevel level, absl::Time time, std::string_view message) {
  // Debian's Abseil is built with its own absl::string_view, which StrCat cannot take from a
  // std::string_view; plain std::string appends avoid the conversion.
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  line.reserve(line.size() + 10 + message.size());
  line += ' ';
  line += LevelName(level);
  line += ' ';
  for (char c : message) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      AppendHexEscape(line, byte);
    } else {
      line += c;
    }
  }
  return line;
}

void LogInfo(std::string_view message) { Write(LogLevel::kInfo, message); }
void LogWarning(std::string_view message) { Write(LogLevel::kWarning, message); }
void LogError(std::string_view message) { Write(LogLevel::kError, message); }

std::string EscapeForLog(std::string_view bytes, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(bytes.size(), max_bytes) + 3);
  char escape[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    std::string_view piece;
    switch (byte) {
      case '\n':
        piece = "\\n";
        break;
      case '\r':
        piece = "\\r";
        break;
      case '\t':
        piece = "\\t";
        break;
      case '\\':
        piece = "\\\\";
        break;
      case '"':
        piece = "\\\"";
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          escape[0] = static_cast<char>(byte);
          piece = std::string_view(escape, 1);
        } else {
          escape[0] = '\\';
          escape[1] = 'x';
          escape[2] = kHexDigits[byte >> 4];
          escape[3] = kHexDigits[byte & 0xf];
          piece = std::string_view(escape, 4);
        }
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "...";
      return out;
    }
    out += piece;
  }
  return out;
}

LogThrottle::LogThrottle(absl::Duration interval)
    : interval_nanos_(std::max<int64_t>(0, absl::ToInt64Nanoseconds(interval))),
      next_allowed_unix_nanos_(std::numeric_limits<int64_t>::min()) {}

bool LogThrottle::ShouldLog(absl::Time now) {
  const int64_t now_nanos = absl::ToUnixNanos(now);
  int64_t next = next_allowed_unix_nanos_.load(std::memory_order_relaxed);
  // Saturate rather than overflow for absurd times or intervals.
  const int64_t following = now_nanos > std::numeric_limits<int64_t>::max() - interval_nanos_
                                ? std::numeric_limits<int64_t>::max()
                                : now_nanos + interval_nanos_;
  while (now_nanos >= next) {
    if (next_allowed_unix_nanos_.compare_exchange_weak(next, following,
                                                       std::memory_order_relaxed)) {
      return true;
    }
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

int64_t LogThrottle::TakeSuppressedCount() {
  return suppressed_.exchange(0, std::memory_order_relaxed);
}

}  // namespace rendezvous::common

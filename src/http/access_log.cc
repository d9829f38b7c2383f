// AccessLog: line formatting, per-shard buffers, the flusher thread and reopen.
#include "http/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "common/log.h"

namespace rendezvous::http {
namespace {

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

int OpenForAppend(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

std::unique_ptr<AccessLog> AccessLog::Open(const std::string& path, std::string* error,
                                           absl::Duration flush_interval) {
  int fd = STDERR_FILENO;
  if (path != "-") {
    fd = OpenForAppend(path);
    if (fd < 0) {
      *error = "cannot open the access log " + path + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  return std::unique_ptr<AccessLog>(new AccessLog(path, fd, flush_interval));
}

AccessLog::AccessLog(std::string path, int fd, absl::Duration flush_interval)
    : path_(std::move(path)), fd_(fd), flush_interval_(flush_interval) {
  if (flush_interval_ != absl::InfiniteDuration()) {
    flusher_ = std::thread([this] { FlusherLoop(); });
  }
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  Flush();
  if (fd_ != STDERR_FILENO) close(fd_);
}

void AccessLog::AppendLine(const AccessRecord& record, std::string& out) {
  SecondCache cache;
  AppendLine(record, cache, out);
}

void AccessLog::AppendLine(const AccessRecord& record, SecondCache& cache, std::string& out) {
  // RFC 3339 in UTC with milliseconds.
  const int64_t millis = absl::ToUnixMillis(record.time);
  const int64_t seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000;
  if (seconds != cache.unix_seconds) {
    cache.unix_seconds = seconds;
    cache.text =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
  }
  out += cache.text;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ ", static_cast<int>(millis - seconds * 1000));
  out += fraction;
  out += record.client != nullptr ? record.client->ToString() : std::string("-");
  out += ' ';
  out += MethodName(record.method);
  out += " \"";
  out += common::EscapeForLog(record.path, kMaxLoggedPathBytes);
  out += "\" ";
  char numbers[64];
  const int n =
      std::snprintf(numbers, sizeof numbers, "%d %zu %lld\n", record.status, record.body_bytes,
                    static_cast<long long>(record.duration_nanos / 1000));
  out.append(numbers, static_cast<size_t>(n));
}

void AccessLog::Record(const AccessRecord& record) {
  Buffer& buffer = buffers_[common::stats_internal::ShardIndex()];
  std::string full;
  {
    std::lock_guard lock(buffer.mutex);
    AppendLine(record, buffer.second, buffer.lines);
    if (buffer.lines.size() < kFlushBytes) return;
    full.swap(buffer.lines);
    // The next lines start with the capacity a full buffer had, not from nothing.
    buffer.lines.reserve(full.capacity());
  }
  WriteOut(full);
}

void AccessLog::Flush() {
  std::string lines;
  for (Buffer& buffer : buffers_) {
    {
      std::lock_guard lock(buffer.mutex);
      if (buffer.lines.empty()) continue;
      lines.swap(buffer.lines);
    }
    WriteOut(lines);
    lines.clear();
  }
}

void AccessLog::WriteOut(std::string_view bytes) {
  std::lock_guard lock(file_mutex_);
  while (!bytes.empty()) {
    const ssize_t written = write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // a full disk loses access log lines, never requests
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

bool AccessLog::Reopen(std::string* error) {
  Flush();
  if (path_ == "-") return true;
  const int fd = OpenForAppend(path_);
  if (fd < 0) {
    *error = "cannot reopen the access log " + path_ + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard lock(file_mutex_);
  close(fd_);
  fd_ = fd;
  return true;
}

void AccessLog::FlusherLoop() {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(flush_interval_),
                      [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Flush();
    lock.lock();
  }
}

}  // namespace rendezvous::http

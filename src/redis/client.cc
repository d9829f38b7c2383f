// Client (client.h): round robin over its connections.
#include "redis/client.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "redis/connection.h"

namespace rendezvous::redis {

std::string_view CommandErrorText(CommandError error) {
  switch (error) {
    case CommandError::kOk:
      return "ok";
    case CommandError::kDisconnected:
      return "not connected to redis";
    case CommandError::kTimeout:
      return "redis did not answer in time";
    case CommandError::kOverloaded:
      return "too many redis commands in flight";
    case CommandError::kShutdown:
      return "the redis client is shutting down";
  }
  return "unknown error";
}

std::string FormatCommand(absl::Span<const std::string_view> args) {
  size_t size = 16;
  for (std::string_view arg : args) size += arg.size() + 16;
  std::string out;
  out.reserve(size);
  absl::StrAppend(&out, "*", args.size(), "\r\n");
  for (std::string_view arg : args) {
    absl::StrAppend(&out, "$", arg.size(), "\r\n");
    out.append(arg);
    out.append("\r\n");
  }
  return out;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  size_t count = options_.connections == 0 ? 1 : options_.connections;
  connections_.reserve(count);
  for (size_t i = 0; i < count; ++i) connections_.push_back(std::make_unique<Connection>(options_));
}

Client::~Client() = default;

void Client::Command(absl::Span<const std::string_view> args, ReplyCallback done) {
  size_t index = next_.fetch_add(1, std::memory_order_relaxed) % connections_.size();
  connections_[index]->Send(FormatCommand(args), std::move(done));
}

bool Client::WaitConnected(absl::Duration timeout) {
  // Start-up only: polling a flag every few milliseconds costs nothing there.
  auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (ConnectedCount() < connections_.size()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

size_t Client::ConnectedCount() const {
  size_t n = 0;
  for (const auto& connection : connections_) n += connection->connected() ? 1 : 0;
  return n;
}

}  // namespace rendezvous::redis

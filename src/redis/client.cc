// Client (client.h): the calling thread's worker connection, else round robin over the shared
// connections.
#include "redis/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "redis/connection.h"

namespace rendezvous::redis {
namespace {

// The worker connection this thread serves, and the attachment it belongs to. Written only by the
// thread itself (a task the attachment posts to its io_context), read only by it.
struct WorkerSlot {
  uint64_t attachment = 0;
  Connection* connection = nullptr;
};
thread_local WorkerSlot worker_slot;

std::atomic<uint64_t> next_attachment{1};

// Whether connecting needs no DNS query: hiredis resolves a host name with a blocking
// getaddrinfo on every attempt, which on a worker's thread would hold up every request of that
// worker while a resolver is slow or down ("localhost" comes from /etc/hosts).
bool ConnectsWithoutDns(const Endpoint& endpoint) {
  if (endpoint.kind == Endpoint::Kind::kUnix || endpoint.host == "localhost") return true;
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, endpoint.host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, endpoint.host.c_str(), address) == 1;
}

}  // namespace

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

Client::~Client() { DetachWorkers(); }

void Client::Command(absl::Span<const std::string_view> args, ReplyCallback done) {
  const WorkerSlot& slot = worker_slot;
  if (slot.connection != nullptr &&
      slot.attachment == attachment_.load(std::memory_order_relaxed) &&
      slot.connection->ServesHere()) {
    slot.connection->SendHere(FormatCommand(args), std::move(done));
    return;
  }
  SendShared(FormatCommand(args), std::move(done));
}

void Client::SharedCommand(absl::Span<const std::string_view> args, ReplyCallback done) {
  SendShared(FormatCommand(args), std::move(done));
}

void Client::SendShared(std::string command, ReplyCallback done) {
  size_t index = next_.fetch_add(1, std::memory_order_relaxed) % connections_.size();
  connections_[index]->Send(std::move(command), std::move(done));
}

void Client::AttachWorkers(absl::Span<boost::asio::io_context* const> io_contexts) {
  DetachWorkers();
  if (!ConnectsWithoutDns(options_.endpoint)) return;  // the shared connections carry everything
  const uint64_t attachment = next_attachment.fetch_add(1, std::memory_order_relaxed);
  workers_.reserve(io_contexts.size());
  for (boost::asio::io_context* io : io_contexts) {
    workers_.push_back(std::make_unique<Connection>(options_, *io));
  }
  // Published before the tasks below are posted, so that a thread that runs one sees it.
  attachment_.store(attachment, std::memory_order_relaxed);
  for (size_t i = 0; i < io_contexts.size(); ++i) {
    // Captures no Client: after a detach it only leaves a memory that matches nothing.
    boost::asio::post(*io_contexts[i], [attachment, connection = workers_[i].get()] {
      worker_slot = WorkerSlot{attachment, connection};
    });
  }
}

void Client::DrainWorkers() {
  for (auto& connection : workers_) connection->Drain();
}

void Client::DetachWorkers() {
  if (workers_.empty()) return;
  attachment_.store(0, std::memory_order_relaxed);
  workers_.clear();
}

size_t Client::WorkerConnectedCount() const {
  size_t n = 0;
  for (const auto& connection : workers_) n += connection->connected() ? 1 : 0;
  return n;
}

bool Client::WaitConnected(absl::Duration timeout) {
  // Start-up only: polling a flag every few milliseconds costs nothing there.
  auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (ConnectedCount() < connections_.size() || WorkerConnectedCount() < workers_.size()) {
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

#include "net/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "net/worker.h"

namespace rendezvous::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

asio::ip::address ToAsio(const common::IpAddress& address) {
  if (address.is_v4()) {
    const auto& b = address.bytes();
    return asio::ip::address_v4({b[12], b[13], b[14], b[15]});
  }
  return asio::ip::address_v6(address.bytes());
}

// Whether a failure to listen on the IPv6 wildcard means that the machine has no IPv6 (then the
// IPv4 wildcard is the listener), rather than a failure the IPv4 socket would share.
bool NoIpv6(const boost::system::error_code& ec) {
  return ec == asio::error::address_family_not_supported ||
         ec == boost::system::errc::address_not_available;
}

// "0.0.0.0:80", "[::1]:80": the address as configured, for messages.
std::string HostPort(const common::IpAddress& address, uint16_t port) {
  if (address.is_v4()) return absl::StrCat(address.ToString(), ":", port);
  return absl::StrCat("[", address.ToString(), "]:", port);
}

}  // namespace

Server::Server(const ServerOptions& options, http::RequestHandler& handler,
               const common::Clock& clock, common::StatsRegistry* stats, TlsListener tls)
    : options_(options),
      handler_(handler),
      clock_(clock),
      connections_(options.max_connections, options.max_connections_per_client,
                   options.ipv6_prefix_bits),
      refused_{&own_refused_total_, &own_refused_per_client_},
      tls_(tls) {
  if (stats == nullptr) return;
  stats->AddCallback(common::MetricType::kGauge, "rendezvous_connections",
                     "Open client connections.",
                     [this] { return static_cast<double>(connections_.open_connections()); });
  constexpr std::string_view kRefusedHelp =
      "Connections closed right after accept because a connection cap was reached, by cap.";
  refused_.total_cap = &stats->AddCounter("rendezvous_connections_refused_total", kRefusedHelp,
                                          {{"reason", "total"}});
  refused_.per_client_cap = &stats->AddCounter("rendezvous_connections_refused_total", kRefusedHelp,
                                               {{"reason", "per_client"}});
}

Server::~Server() {
  if (!threads_.empty()) Shutdown(absl::ZeroDuration());
}

bool Server::Start(std::string* error) {
  // 0.0.0.0 (the default, as the original's Go listener) and :: accept IPv4 and IPv6 clients on
  // one dual-stack socket; fall back to IPv4 only where the machine has no IPv6.
  const common::IpAddress& listen = options_.listen_address;
  const bool wildcard =
      listen == common::IpAddress() || listen == *common::IpAddress::Parse("0.0.0.0");
  tcp::endpoint endpoint(ToAsio(listen), options_.port);
  bool dual_stack = false;
  if (wildcard) {
    endpoint = tcp::endpoint(asio::ip::address_v6::any(), options_.port);
    dual_stack = true;
  }
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>(options_, handler_, clock_, connections_, refused_,
                                           WorkerTls{tls_.contexts, tls_.plain_handler,
                                                     &tls_handshake_log_});
    const Worker::PortClaim claim =
        i == 0 ? Worker::PortClaim::kExclusive : Worker::PortClaim::kJoin;
    const char* failed_step = "";
    boost::system::error_code ec = worker->Listen(endpoint, dual_stack, claim, &failed_step);
    if (ec && i == 0 && wildcard && NoIpv6(ec)) {
      // A machine without IPv6: the IPv4 wildcard alone.
      endpoint = tcp::endpoint(asio::ip::address_v4::any(), options_.port);
      dual_stack = false;
      ec = worker->Listen(endpoint, dual_stack, claim, &failed_step);
    }
    if (ec) {
      *error =
          absl::StrCat(failed_step, " ", HostPort(listen, endpoint.port()), ": ", ec.message());
      if (ec == asio::error::address_in_use) {
        absl::StrAppend(error, " (another server is listening on this port)");
      }
      workers_.clear();
      return false;
    }
    if (i == 0) {  // with port 0 the kernel chose one: the other workers share it
      port_ = worker->local_port();
      endpoint.port(port_);
    }
    if (tls_.contexts != nullptr) {
      tcp::endpoint tls_endpoint(endpoint.address(), i == 0 ? tls_.port : tls_port_);
      ec = worker->ListenTls(tls_endpoint, dual_stack, claim, &failed_step);
      if (ec) {
        *error = absl::StrCat(failed_step, " ", HostPort(listen, tls_endpoint.port()),
                              " (TLS): ", ec.message());
        if (ec == asio::error::address_in_use) {
          absl::StrAppend(error, " (another server is listening on this port)");
        }
        workers_.clear();
        return false;
      }
      if (i == 0) tls_port_ = worker->tls_local_port();
    }
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->Run(); });
  }
  return true;
}

std::vector<boost::asio::io_context*> Server::worker_io_contexts() {
  std::vector<boost::asio::io_context*> out;
  for (auto& worker : workers_) out.push_back(&worker->io_context());
  return out;
}

bool Server::Shutdown(absl::Duration grace) {
  for (auto& worker : workers_) worker->BeginShutdown();
  // Wait for the workers to drain, up to `grace`; then cut the rest off.
  std::atomic<size_t> finished{0};
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::thread> waiters;
  for (auto& thread : threads_) {
    waiters.emplace_back([&, t = &thread] {
      t->join();
      std::lock_guard lock(mutex);
      ++finished;
      cv.notify_all();
    });
  }
  bool drained;
  {
    std::unique_lock lock(mutex);
    drained = cv.wait_for(lock, absl::ToChronoMilliseconds(grace),
                          [&] { return finished == threads_.size(); });
  }
  if (!drained) {
    for (auto& worker : workers_) worker->Stop();
  }
  for (auto& waiter : waiters) waiter.join();
  threads_.clear();
  return drained;
}

}  // namespace rendezvous::net

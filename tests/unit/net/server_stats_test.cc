// net::Server's connection metrics: open connections and refusals by cap, seen by a real client
// on loopback (port 0).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/stats.h"
#include "http/request_handler.h"
#include "net/server.h"

namespace rendezvous::net {
namespace {

// Answers every request 200 "ok".
class OkHandler final : public http::RequestHandler {
 public:
  void Handle(const http::Request&, http::Response& response, http::Done done) override {
    response.Reset();
    response.status = 200;
    response.body = "ok";
    done();
  }
};

// A blocking loopback client; reads time out after 10 s so that a broken server fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~Client() { ::close(fd_); }

  // Sends a GET and returns what the server sent until its first read: "" when it closed.
  std::string Get() {
    constexpr std::string_view kRequest = "GET /k HTTP/1.1\r\nHost: test\r\n\r\n";
    EXPECT_EQ(::send(fd_, kRequest.data(), kRequest.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(kRequest.size()));
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, n) : std::string();
  }

 private:
  int fd_;
};

double ValueOf(const common::StatsRegistry& registry, std::string_view family,
               std::string_view reason = "") {
  for (const common::StatsRegistry::Family& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const common::StatsRegistry::Series& series : f.series) {
      if (reason.empty() || series.labels.at(0).second == reason) return series.value;
    }
  }
  return -1;
}

ServerOptions LoopbackOptions() {
  ServerOptions options;
  options.listen_address = *common::IpAddress::Parse("127.0.0.1");
  options.port = 0;
  return options;  // loopback is no trusted proxy here: the per-client cap applies to it
}

TEST(ServerStatsTest, CountsOpenConnectionsAndRefusalsByTheTotalCap) {
  common::StatsRegistry stats;
  common::SystemClock clock;
  OkHandler handler;
  ServerOptions options = LoopbackOptions();
  options.max_connections = 1;
  Server server(options, handler, clock, &stats);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;

  Client first(server.port());
  ASSERT_NE(first.Get().find("200 OK"), std::string::npos);
  Client second(server.port());
  EXPECT_EQ(second.Get(), "");  // closed at accept; the count came before the close
  EXPECT_EQ(ValueOf(stats, "rendezvous_connections_refused_total", "total"), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_connections_refused_total", "per_client"), 0);
  EXPECT_EQ(ValueOf(stats, "rendezvous_connections"), 1);
  server.Shutdown(absl::ZeroDuration());
}

TEST(ServerStatsTest, CountsRefusalsByThePerClientCap) {
  common::StatsRegistry stats;
  common::SystemClock clock;
  OkHandler handler;
  ServerOptions options = LoopbackOptions();
  options.max_connections_per_client = 1;
  Server server(options, handler, clock, &stats);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;

  Client first(server.port());
  ASSERT_NE(first.Get().find("200 OK"), std::string::npos);
  Client second(server.port());
  EXPECT_EQ(second.Get(), "");
  EXPECT_EQ(ValueOf(stats, "rendezvous_connections_refused_total", "per_client"), 1);
  EXPECT_EQ(ValueOf(stats, "rendezvous_connections_refused_total", "total"), 0);
  server.Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace rendezvous::net

// net::PlainSession on a real loopback socket (port 0): the edge-triggered reads and writes of the
// worker's Poller. Each test drives a case where a read or a write cannot finish in one call: an
// answer larger than the socket buffers to a client that reads in small pieces, more pipelined
// requests than one read takes, a request in one-byte pieces, a half-closed client, and a server
// shutdown with an idle connection (the poller must not keep the worker running).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "http/request_handler.h"
#include "net/server.h"

namespace rendezvous::net {
namespace {

constexpr size_t kBigSize = 8 << 20;  // well over loopback's socket buffers

// "/big": kBigSize bytes of a counting pattern; anything else: "ok".
class Handler final : public http::RequestHandler {
 public:
  void Handle(const http::Request& request, http::Response& response, http::Done done) override {
    response.Reset();
    response.status = 200;
    if (request.target == "/big") {
      response.body.resize(kBigSize);
      for (size_t i = 0; i < kBigSize; ++i) response.body[i] = static_cast<char>('a' + i % 26);
    } else {
      response.body = "ok";
    }
    done();
  }
};

// A blocking loopback client; reads time out after 10 s so that a broken server fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port, int receive_buffer = 0) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~Client() { ::close(fd_); }

  void Send(std::string_view bytes) {
    EXPECT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void ShutdownSend() { ::shutdown(fd_, SHUT_WR); }

  // Reads until `count` responses' bodies ("ok" each) or EOF; `piece` bytes per recv.
  std::string ReadUntil(size_t bytes_wanted, size_t piece = 65536) {
    std::string got;
    std::string buffer(piece, '\0');
    while (got.size() < bytes_wanted) {
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      got.append(buffer.data(), static_cast<size_t>(n));
    }
    return got;
  }
  // True when the server closed the connection (EOF) within the read timeout.
  bool SeesEof() {
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  int fd_;
};

constexpr std::string_view kGet = "GET /k HTTP/1.1\r\nHost: test\r\n\r\n";

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class PlainSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen_address = *common::IpAddress::Parse("127.0.0.1");
    options_.port = 0;
    options_.threads = 1;
    server_.emplace(options_, handler_, clock_, nullptr);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }
  void TearDown() override { server_->Shutdown(absl::Seconds(5)); }

  common::SystemClock clock_;
  Handler handler_;
  ServerOptions options_;
  std::optional<Server> server_;
};

TEST_F(PlainSessionTest, AnAnswerLargerThanTheSocketBuffersReachesASlowReaderWhole) {
  Client client(server_->port(), /*receive_buffer=*/4096);
  client.Send("GET /big HTTP/1.1\r\nHost: test\r\n\r\n");
  const std::string got = client.ReadUntil(kBigSize + 200, /*piece=*/1024);
  const size_t body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  ASSERT_EQ(got.size() - body - 4, kBigSize);
  for (size_t i = 0; i < kBigSize; i += 4099) {
    ASSERT_EQ(got[body + 4 + i], static_cast<char>('a' + i % 26)) << i;
  }
  // The connection goes on after the partial writes.
  client.Send(kGet);
  EXPECT_EQ(Count(client.ReadUntil(1), "200 OK"), 1u);
}

TEST_F(PlainSessionTest, MorePipelinedRequestsThanOneReadTakesAreAllAnswered) {
  constexpr size_t kRequests = 100;  // about 3.3 KB at once
  std::string batch;
  for (size_t i = 0; i < kRequests; ++i) batch += kGet;
  Client client(server_->port());
  client.Send(batch);
  std::string got;
  while (Count(got, "200 OK") < kRequests) {
    const std::string more = client.ReadUntil(1);
    if (more.empty()) break;
    got += more;
  }
  EXPECT_EQ(Count(got, "200 OK"), kRequests);
}

TEST_F(PlainSessionTest, ARequestInOneBytePiecesIsAnswered) {
  Client client(server_->port());
  for (char c : kGet) client.Send(std::string_view(&c, 1));
  EXPECT_EQ(Count(client.ReadUntil(1), "200 OK"), 1u);
}

TEST_F(PlainSessionTest, AClientThatHalfClosesAfterItsRequestGetsTheAnswerAndAClose) {
  Client client(server_->port());
  client.Send(kGet);
  client.ShutdownSend();
  const std::string got = client.ReadUntil(1);
  EXPECT_EQ(Count(got, "200 OK"), 1u);
  EXPECT_TRUE(client.SeesEof());
}

TEST_F(PlainSessionTest, ACloseRequestGetsItsAnswerThenTheConnectionCloses) {
  Client client(server_->port());
  client.Send("GET /k HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  const std::string got = client.ReadUntil(1);
  EXPECT_EQ(Count(got, "200 OK"), 1u);
  EXPECT_NE(got.find("\r\n\r\nok"), std::string::npos);
  EXPECT_TRUE(client.SeesEof());
}

TEST_F(PlainSessionTest, ACloseRequestFreesItsConnectionAtOnceWithoutWaitingForTheClient) {
  // One connection per client: the second is served only if the first, answered, was closed by
  // the server itself; a half-close and linger would hold its slot until the client closes.
  server_->Shutdown(absl::Seconds(5));
  options_.max_connections_per_client = 1;
  options_.linger_timeout = absl::Seconds(30);
  server_.emplace(options_, handler_, clock_, nullptr);
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;

  Client first(server_->port());
  first.Send("GET /k HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Count(first.ReadUntil(1), "200 OK"), 1u);
  EXPECT_TRUE(first.SeesEof());  // `first` stays open on our side
  Client second(server_->port());
  second.Send(kGet);
  EXPECT_EQ(Count(second.ReadUntil(1), "200 OK"), 1u);
}

TEST_F(PlainSessionTest, BytesAfterACloseRequestDoNotCostTheAnswer) {
  // The server lingers (half-close, drain) instead of closing under unread bytes, which would
  // reset the connection and could destroy the answer.
  Client client(server_->port());
  client.Send(std::string("GET /k HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n") +
              std::string(100000, 'x'));
  const std::string got = client.ReadUntil(1);
  EXPECT_EQ(Count(got, "200 OK"), 1u);
  EXPECT_NE(got.find("\r\n\r\nok"), std::string::npos);
}

TEST_F(PlainSessionTest, ShutdownClosesAnIdleConnectionAndReturns) {
  Client client(server_->port());
  client.Send(kGet);
  ASSERT_EQ(Count(client.ReadUntil(1), "200 OK"), 1u);
  // Returns true when every worker finished within the grace period.
  EXPECT_TRUE(server_->Shutdown(absl::Seconds(5)));
  EXPECT_TRUE(client.SeesEof());
}

}  // namespace
}  // namespace rendezvous::net

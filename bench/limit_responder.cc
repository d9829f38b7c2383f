// rdv-limit: the "limit" reference of bench/run.sh. The least work any HTTP/1.1 server on this
// kernel can do per request: one edge-triggered epoll loop that counts "\r\n\r\n" (no parsing,
// no limits, no store) and answers each complete request with the same fixed bytes. Not a
// server: it assumes requests without a body (the GET workloads) and exists only to be measured.
//
//   rdv-limit RESPONSE_BYTES
//
// Listens on 127.0.0.1 on a free port and prints "listening on 127.0.0.1:<port>". Every answer is
// exactly RESPONSE_BYTES bytes: a 200 with an application/octet-stream body padded to that size
// (run.sh passes the size of our server's answer to the benchmark's GET). Keep-alive by default;
// every complete request already read is answered, all in one write (pipelining); a request
// that contains "Connection: close" is answered with "Connection: close" and the socket closed
// after the write, as a server does for a connection per request. Single-threaded, so nothing
// here is shared between threads.
//
// It does what a lean server would: accept4 with SOCK_NONBLOCK (no extra ioctl), TCP_NODELAY,
// TCP_DEFER_ACCEPT on the listener (as our server sets), one EPOLLIN | EPOLLOUT | EPOLLET
// registration per connection for its whole life (no epoll_ctl per request), and reads until a
// short read (the socket is drained; the next byte that arrives raises a new edge).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kReadBytes = 16 * 1024;
constexpr std::string_view kCloseHeader = "connection: close";

struct Conn {
  int fd = -1;
  int crlf_state = 0;    // how much of "\r\n\r\n" ends the bytes read so far (0..3)
  size_t close_match = 0;  // how much of kCloseHeader ends the bytes read so far
  bool close_seen = false;  // the current request asked for Connection: close
  bool close_after_write = false;
  std::string out;       // answers not yet written
  size_t out_sent = 0;
};

std::string MakeResponse(size_t total_bytes, bool close) {
  const std::string head_start = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n";
  const std::string connection = close ? "Connection: close\r\n" : "";
  // Find the body length whose header plus body make total_bytes (the length's own digits count).
  for (size_t body = 0; body <= total_bytes; ++body) {
    std::string head = head_start + "Content-Length: " + std::to_string(body) + "\r\n" +
                       connection + "\r\n";
    if (head.size() + body == total_bytes) return head + std::string(body, 'v');
  }
  std::string head = head_start + "Content-Length: 0\r\n" + connection + "\r\n";
  return head;  // total_bytes is smaller than the shortest answer: send the shortest
}

void CloseConn(int epoll_fd, Conn* conn) {
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, conn->fd, nullptr);
  close(conn->fd);
  delete conn;
}

// Writes what is pending; returns false when the connection is finished (closed or failed).
bool Flush(int epoll_fd, Conn* conn) {
  while (conn->out_sent < conn->out.size()) {
    const ssize_t n = write(conn->fd, conn->out.data() + conn->out_sent,
                            conn->out.size() - conn->out_sent);
    if (n > 0) {
      conn->out_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;  // EPOLLOUT will bring us back
    CloseConn(epoll_fd, conn);
    return false;
  }
  conn->out.clear();
  conn->out_sent = 0;
  if (conn->close_after_write) {
    CloseConn(epoll_fd, conn);
    return false;
  }
  return true;
}

// Counts the requests that end in `data`, continuing the matches of the previous read.
void Scan(Conn* conn, const char* data, size_t size, const std::string& keep_alive,
          const std::string& closing) {
  for (size_t i = 0; i < size; ++i) {
    const char c = data[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    if (lower == kCloseHeader[conn->close_match]) {
      if (++conn->close_match == kCloseHeader.size()) {
        conn->close_seen = true;
        conn->close_match = 0;
      }
    } else {
      conn->close_match = lower == kCloseHeader[0] ? 1 : 0;
    }
    switch (conn->crlf_state) {
      case 0:
      case 2:
        conn->crlf_state = c == '\r' ? conn->crlf_state + 1 : 0;
        break;
      case 1:
        conn->crlf_state = c == '\n' ? 2 : (c == '\r' ? 1 : 0);
        break;
      case 3:
        if (c == '\n') {
          conn->crlf_state = 0;
          if (conn->close_after_write) break;  // nothing after a closing request is answered
          if (conn->close_seen) {
            conn->out += closing;
            conn->close_after_write = true;
          } else {
            conn->out += keep_alive;
          }
          conn->close_seen = false;
        } else {
          conn->crlf_state = c == '\r' ? 1 : 0;
        }
        break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t response_bytes = 0;
  if (argc != 2 || std::from_chars(argv[1], argv[1] + std::strlen(argv[1]), response_bytes).ec !=
                       std::errc()) {
    std::fprintf(stderr, "usage: rdv-limit RESPONSE_BYTES\n");
    return 2;
  }
  const std::string keep_alive = MakeResponse(response_bytes, false);
  const std::string closing = MakeResponse(response_bytes, true);

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int defer_seconds = 1;
  setsockopt(listener, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof(defer_seconds));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("rdv-limit: listen");
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const int epoll_fd = epoll_create1(0);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.ptr = nullptr;  // the listener
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);

  std::vector<char> buffer(kReadBytes);
  epoll_event events[256];
  for (;;) {
    const int ready = epoll_wait(epoll_fd, events, 256, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return 1;
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.ptr == nullptr) {
        for (;;) {
          const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (fd < 0) break;  // EAGAIN: drained (other errors: the next edge retries)
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          auto* conn = new Conn;
          conn->fd = fd;
          epoll_event conn_event{};
          conn_event.events = EPOLLIN | EPOLLOUT | EPOLLET;
          conn_event.data.ptr = conn;
          epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &conn_event);
        }
        continue;
      }
      auto* conn = static_cast<Conn*>(events[i].data.ptr);
      bool open = true;
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        for (;;) {
          const ssize_t n = read(conn->fd, buffer.data(), buffer.size());
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && errno == EAGAIN) break;
          if (n <= 0) {  // EOF or error
            CloseConn(epoll_fd, conn);
            open = false;
            break;
          }
          Scan(conn, buffer.data(), static_cast<size_t>(n), keep_alive, closing);
          if (static_cast<size_t>(n) < buffer.size()) break;  // short read: drained
        }
      }
      if (open && !conn->out.empty()) Flush(epoll_fd, conn);
    }
  }
}

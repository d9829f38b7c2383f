// Transports: how a Session moves bytes on its non-blocking socket. PlainTransport is recv and
// send; TlsTransport (tls_transport.h) runs OpenSSL over the same socket. Both follow the
// poller's edge-triggered rule (poller.h): `readable` and `writable` say whether the socket may
// still progress since its last edge, and a transport clears them when the kernel says it is
// drained (a short read, EAGAIN).
//
// Thread-safety: one session's thread.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "common/ip_address.h"

namespace rendezvous::net {

struct IoResult {
  enum Status : uint8_t {
    kDone,        // `bytes` moved (> 0), or the handshake finished
    kWouldBlock,  // wait for the next edge
    kEof,         // the peer closed its side (reads only)
    kError,       // reset, broken pipe, a bad TLS record: the connection is over
  };
  Status status;
  size_t bytes = 0;
};

class PlainTransport {
 public:
  static constexpr bool kTls = false;
  explicit PlainTransport(int fd) : fd_(fd) {}
  int fd() const { return fd_; }

  IoResult Handshake(bool&, bool&) { return {IoResult::kDone}; }

  IoResult Read(char* buffer, size_t size, bool& readable) {
    if (!readable) return {IoResult::kWouldBlock};
    ssize_t n;
    do {
      n = ::recv(fd_, buffer, size, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      // A read that did not fill the buffer took everything the socket had.
      if (static_cast<size_t>(n) < size) readable = false;
      return {IoResult::kDone, static_cast<size_t>(n)};
    }
    readable = false;
    if (n == 0) return {IoResult::kEof};
    return {errno == EAGAIN || errno == EWOULDBLOCK ? IoResult::kWouldBlock : IoResult::kError};
  }

  IoResult Write(const char* data, size_t size, bool& writable) {
    if (!writable) return {IoResult::kWouldBlock};
    ssize_t n;
    do {
      n = ::send(fd_, data, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return {IoResult::kDone, static_cast<size_t>(n)};
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable = false;
      return {IoResult::kWouldBlock};
    }
    return {IoResult::kError};
  }
  // Nothing is held back: every byte Write took is in the kernel.
  IoResult Flush(bool&) { return {IoResult::kDone}; }

  // The half-close before lingering: FIN after the last answer.
  void ShutdownSend(bool&) { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

}  // namespace rendezvous::net

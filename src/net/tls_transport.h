// TlsTransport: TLS on a session's non-blocking socket, with OpenSSL driven directly.
//
// OpenSSL reads and writes memory BIOs; the transport does the socket I/O itself with recv and
// send, so that TLS follows the poller's edge-triggered rule exactly like plain TCP (one recv per
// batch of records that arrived together, no recv that only finds EAGAIN). Asio's ssl::stream,
// which this replaced, added a speculative read and two handler allocations per operation.
//
// Encrypted output that the socket did not take yet is held here: at most one chunk's records (Write
// encrypts at most kChunk bytes at a time and reports them written only once they are all in the
// kernel, so the Connection's write deadline still applies to a client that stops reading), and
// the records OpenSSL makes on its own (the handshake's, session tickets, close_notify).
//
// The half-close is close_notify; the client's close_notify (or its EOF) ends the lingering read.
//
// Thread-safety: one session's thread.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "net/transport.h"

namespace rendezvous::net {

class TlsTransport {
 public:
  static constexpr bool kTls = true;
  // `context` is kept for the connection's life (a reload swaps the server's context for new
  // connections only).
  TlsTransport(int fd, std::shared_ptr<boost::asio::ssl::context> context);
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;
  int fd() const { return fd_; }

  IoResult Handshake(bool& readable, bool& writable);
  IoResult Read(char* buffer, size_t size, bool& readable);
  IoResult Write(const char* data, size_t size, bool& writable);
  // Sends the encrypted bytes held back: kDone when none are left.
  IoResult Flush(bool& writable);
  // Queues close_notify and sends what the socket takes (the rest goes with the next Flush).
  void ShutdownSend(bool& writable);

  // Why the handshake or a read failed (OpenSSL's reason), for the log.
  boost::system::error_code error() const { return error_; }

 private:
  static constexpr size_t kChunk = 16384;      // one TLS record of plaintext
  static constexpr size_t kKeptBuffer = 4096;  // larger buffers are freed once empty
  // Reads what the socket has into OpenSSL's input; kDone when bytes arrived.
  IoResult Fill(bool& readable);
  // Moves OpenSSL's output into out_.
  void TakeOutput();
  // Replaces an input BIO grown by a large read once it is empty.
  void ReleaseInput();

  int fd_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  SSL* ssl_ = nullptr;
  BIO* input_ = nullptr;   // owned by ssl_
  BIO* output_ = nullptr;  // owned by ssl_
  std::string out_;        // encrypted bytes not yet sent
  size_t out_sent_ = 0;    // of out_
  size_t pending_plain_ = 0;  // plaintext bytes of the last Write whose records are not all sent
  bool input_grown_ = false;   // input_ held more than kKeptBuffer at once
  bool output_grown_ = false;  // output_ did
  boost::system::error_code error_;
};

}  // namespace rendezvous::net

#include "net/tls_transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <utility>

#include <boost/asio/ssl/error.hpp>

namespace rendezvous::net {

namespace {

boost::system::error_code LastSslError() {
  const unsigned long error = ERR_peek_last_error();
  if (error == 0) return boost::asio::ssl::error::stream_truncated;
  return {static_cast<int>(error), boost::asio::error::get_ssl_category()};
}

// An empty memory BIO, where empty means "not yet", not end of stream.
BIO* NewMemoryBio() {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr) BIO_set_mem_eof_return(bio, -1);
  return bio;
}

}  // namespace

TlsTransport::TlsTransport(int fd, std::shared_ptr<boost::asio::ssl::context> context)
    : fd_(fd), context_(std::move(context)) {
  ssl_ = SSL_new(context_->native_handle());
  if (ssl_ == nullptr) return;
  input_ = NewMemoryBio();
  output_ = NewMemoryBio();
  if (input_ == nullptr || output_ == nullptr) {
    BIO_free(input_);
    BIO_free(output_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  SSL_set_bio(ssl_, input_, output_);
  SSL_set_accept_state(ssl_);
}

TlsTransport::~TlsTransport() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs
}

IoResult TlsTransport::Fill(bool& readable) {
  if (!readable) return {IoResult::kWouldBlock};
  char raw[kChunk + 1024];  // a whole record with its header and tag, and some of the next
  ssize_t n;
  do {
    n = ::recv(fd_, raw, sizeof raw, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (static_cast<size_t>(n) < sizeof raw) readable = false;  // drained
    BIO_write(input_, raw, static_cast<int>(n));
    if (static_cast<size_t>(n) > kKeptBuffer) input_grown_ = true;
    return {IoResult::kDone, static_cast<size_t>(n)};
  }
  readable = false;
  if (n == 0) return {IoResult::kEof};
  return {errno == EAGAIN || errno == EWOULDBLOCK ? IoResult::kWouldBlock : IoResult::kError};
}

void TlsTransport::TakeOutput() {
  const size_t pending = BIO_ctrl_pending(output_);
  if (pending == 0) return;
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  if (pending > kKeptBuffer) output_grown_ = true;
  const size_t old_size = out_.size();
  out_.resize(old_size + pending);
  const int n = BIO_read(output_, out_.data() + old_size, static_cast<int>(pending));
  out_.resize(old_size + static_cast<size_t>(std::max(n, 0)));
}

IoResult TlsTransport::Flush(bool& writable) {
  while (out_sent_ < out_.size()) {
    if (!writable) return {IoResult::kWouldBlock};
    ssize_t n;
    do {
      n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      out_sent_ += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable = false;
      return {IoResult::kWouldBlock};
    } else {
      return {IoResult::kError};
    }
  }
  // All sent. Buffers grown by a large answer are given back (a memory BIO never shrinks, so it
  // is replaced), so that an idle connection holds little; small ones are kept for the next.
  if (out_.capacity() > kKeptBuffer) {
    std::string().swap(out_);
  } else {
    out_.clear();
  }
  out_sent_ = 0;
  if (output_grown_ && BIO_ctrl_pending(output_) == 0) {
    if (BIO* fresh = NewMemoryBio()) {
      SSL_set0_wbio(ssl_, fresh);  // frees the old one
      output_ = fresh;
      output_grown_ = false;
    }
  }
  return {IoResult::kDone};
}

void TlsTransport::ReleaseInput() {
  // OpenSSL took every byte (a partial record is in its own buffer, not the BIO's).
  if (!input_grown_ || BIO_ctrl_pending(input_) != 0) return;
  if (BIO* fresh = NewMemoryBio()) {
    SSL_set0_rbio(ssl_, fresh);  // frees the old one
    input_ = fresh;
    input_grown_ = false;
  }
}

IoResult TlsTransport::Handshake(bool& readable, bool& writable) {
  if (ssl_ == nullptr) return {IoResult::kError};
  for (;;) {
    ERR_clear_error();
    const int ret = SSL_do_handshake(ssl_);
    TakeOutput();  // the server's flight, or an alert
    const IoResult flushed = Flush(writable);
    if (ret == 1) {
      // What the socket did not take yet goes with the first answer.
      return {flushed.status == IoResult::kError ? IoResult::kError : IoResult::kDone};
    }
    if (SSL_get_error(ssl_, ret) != SSL_ERROR_WANT_READ) {
      error_ = LastSslError();
      return {IoResult::kError};
    }
    if (flushed.status == IoResult::kError) return flushed;
    const IoResult filled = Fill(readable);
    if (filled.status == IoResult::kDone) continue;
    if (filled.status == IoResult::kEof) {
      error_ = boost::asio::ssl::error::stream_truncated;
      return {IoResult::kError};
    }
    return filled;
  }
}

IoResult TlsTransport::Read(char* buffer, size_t size, bool& readable) {
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    TakeOutput();  // TLS 1.3 may answer a record (a key update) with one of its own
    if (n > 0) return {IoResult::kDone, static_cast<size_t>(n)};
    switch (SSL_get_error(ssl_, n)) {
      case SSL_ERROR_WANT_READ: {
        const IoResult filled = Fill(readable);
        if (filled.status == IoResult::kDone) continue;
        if (filled.status == IoResult::kWouldBlock) ReleaseInput();
        return filled;  // would block, EOF without close_notify, or a socket error
      }
      case SSL_ERROR_ZERO_RETURN:
        return {IoResult::kEof};  // the client's close_notify
      default:
        error_ = LastSslError();
        return {IoResult::kError};
    }
  }
}

IoResult TlsTransport::Write(const char* data, size_t size, bool& writable) {
  // One chunk is encrypted at a time, and reported written only once its records are all in the
  // kernel: so the caller's "written" means sent, and no more than one chunk is held here.
  if (pending_plain_ == 0) {
    const IoResult flushed = Flush(writable);  // a handshake's or a ticket's leftovers first
    if (flushed.status != IoResult::kDone) return flushed;
    ERR_clear_error();
    const int n = SSL_write(ssl_, data, static_cast<int>(std::min(size, kChunk)));
    if (n <= 0) {
      error_ = LastSslError();
      return {IoResult::kError};
    }
    TakeOutput();
    pending_plain_ = static_cast<size_t>(n);
  }
  const IoResult flushed = Flush(writable);
  if (flushed.status != IoResult::kDone) return flushed;
  const size_t written = pending_plain_;
  pending_plain_ = 0;
  return {IoResult::kDone, written};
}

void TlsTransport::ShutdownSend(bool& writable) {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; the client's comes through Read
  TakeOutput();
  Flush(writable);
}

}  // namespace rendezvous::net

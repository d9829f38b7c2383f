// TlsContexts: the server's certificate and key as an OpenSSL context (SSL_CTX, through
// Boost.Asio's ssl::context), and the swap that SIGHUP's reload does.
//
// Settings every context gets: TLS 1.2 and 1.3 only; the library's default cipher suites;
// renegotiation refused (SSL_OP_NO_RENEGOTIATION: a client could otherwise make us redo the
// expensive half of a handshake on one connection, at will); ALPN selects "http/1.1" when the client
// offers it, refuses a client that offers only other protocols (h2 alone) with the
// no_application_protocol alert, and accepts a client that sends no ALPN at all (curl without
// ALPN, openssl s_client); session resumption with tickets (OpenSSL's stateless tickets, keys made
// per context: after a reload, tickets from before it are not resumed but answered with a full
// handshake); no server-side session cache (tickets make it unneeded, and it would be one lock
// shared by every worker's handshakes); SSL_MODE_RELEASE_BUFFERS, so that an idle connection does
// not keep OpenSSL's read and write buffers.
//
// Thread-safety: Load is thread-safe. TlsContexts::Current and Reload may be called from any
// thread; a connection keeps the context it started with (shared ownership) for its whole life, so
// open connections are not touched by a reload.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace rendezvous::net {

// Builds a server context from a PEM certificate file (the leaf first, then any intermediates) and
// a PEM private key file. On failure returns null with one line in `error` naming the file, e.g.
// "cannot read -tlsCert /etc/x.pem: No such file or directory" or "the key in k.pem does not match
// the certificate in c.pem".
std::shared_ptr<boost::asio::ssl::context> LoadTlsContext(const std::string& cert_path,
                                                          const std::string& key_path,
                                                          std::string* error);

class TlsContexts {
 public:
  TlsContexts(std::string cert_path, std::string key_path);

  // Loads the pair; at start-up. False with one line in `error` (see LoadTlsContext).
  [[nodiscard]] bool Load(std::string* error);
  // Loads the files again and, on success, makes the new context the one new handshakes use. On
  // failure the current context stays and `error` says why.
  [[nodiscard]] bool Reload(std::string* error) { return Load(error); }
  // The context for a new connection (never null after a successful Load).
  std::shared_ptr<boost::asio::ssl::context> Current() const;

 private:
  const std::string cert_path_;
  const std::string key_path_;
  // A mutex rather than atomic<shared_ptr>: taken once per TLS accept (next to a handshake it costs
  // nothing), and the thread sanitizer understands it.
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mutex_
};

}  // namespace rendezvous::net

#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace rendezvous::net {
namespace {

namespace ssl = boost::asio::ssl;

constexpr unsigned char kHttp11[] = "http/1.1";

// ALPN: "http/1.1" or nothing. A client that offers ALPN without http/1.1 (an h2-only client)
// would misread our HTTP/1.1 bytes, so it gets a clear alert instead.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
               unsigned int in_length, void*) {
  // `in` is a list of length-prefixed protocol names.
  for (unsigned int i = 0; i < in_length;) {
    const unsigned int length = in[i];
    if (i + 1 + length > in_length) break;
    if (length == sizeof kHttp11 - 1 && std::memcmp(in + i + 1, kHttp11, length) == 0) {
      *out = in + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

// The file's first problem a person can act on: it does not exist or is not readable.
bool Readable(const std::string& flag, const std::string& path, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = "cannot read " + flag + " " + path + ": " + std::strerror(errno);
    return false;
  }
  std::fclose(file);
  return true;
}

std::string OpenSslReason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  return reason.empty() ? "unknown error" : reason;
}

}  // namespace

std::shared_ptr<ssl::context> LoadTlsContext(const std::string& cert_path,
                                             const std::string& key_path, std::string* error) {
  if (!Readable("-tlsCert", cert_path, error) || !Readable("-tlsKey", key_path, error)) {
    return nullptr;
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* handle = context->native_handle();
  SSL_CTX_set_min_proto_version(handle, TLS1_2_VERSION);
  SSL_CTX_set_options(handle, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(handle, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(handle, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(handle, SelectAlpn, nullptr);

  boost::system::error_code ec;
  ERR_clear_error();
  context->use_certificate_chain_file(cert_path, ec);
  if (ec) {
    *error = "cannot load the certificate from -tlsCert " + cert_path + ": " + OpenSslReason(ec);
    ERR_clear_error();
    return nullptr;
  }
  context->use_private_key_file(key_path, ssl::context::pem, ec);
  if (ec) {
    // OpenSSL reports a key that does not match the certificate as a load failure: tell the two
    // apart by loading the key alone.
    ssl::context alone(ssl::context::tls_server);
    boost::system::error_code alone_ec;
    alone.use_private_key_file(key_path, ssl::context::pem, alone_ec);
    if (!alone_ec) {
      *error = "the key in -tlsKey " + key_path + " does not match the certificate in -tlsCert " +
               cert_path;
    } else {
      *error = "cannot load the private key from -tlsKey " + key_path + ": " + OpenSslReason(ec);
    }
    ERR_clear_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(handle) != 1) {
    *error = "the key in -tlsKey " + key_path + " does not match the certificate in -tlsCert " +
             cert_path;
    ERR_clear_error();
    return nullptr;
  }
  return context;
}

TlsContexts::TlsContexts(std::string cert_path, std::string key_path)
    : cert_path_(std::move(cert_path)), key_path_(std::move(key_path)) {}

bool TlsContexts::Load(std::string* error) {
  std::shared_ptr<ssl::context> context = LoadTlsContext(cert_path_, key_path_, error);
  if (!context) return false;
  std::lock_guard lock(mutex_);
  current_ = std::move(context);
  return true;
}

std::shared_ptr<ssl::context> TlsContexts::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace rendezvous::net

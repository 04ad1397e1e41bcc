#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace replywatch::server {
namespace {

namespace ssl = boost::asio::ssl;

int openssl_version(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

std::variant<std::shared_ptr<ssl::context>, std::string> make_tls_context(
    const TlsServerConfig& config) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(native, openssl_version(config.min_version));
  if (config.max_version)
    SSL_CTX_set_max_proto_version(native, openssl_version(*config.max_version));
  if (SSL_CTX_use_certificate_chain_file(native, config.cert_file.c_str()) != 1) {
    return config.cert_file + ": cannot use as a PEM certificate (chain): " + openssl_error();
  }
  if (SSL_CTX_use_PrivateKey_file(native, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return config.key_file + ": cannot use as a PEM private key: " + openssl_error();
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return config.key_file + ": the private key does not match the certificate " + config.cert_file;
  }
  if (config.client_ca_file) {
    if (SSL_CTX_load_verify_locations(native, config.client_ca_file->c_str(), nullptr) != 1) {
      return *config.client_ca_file + ": cannot read as PEM CA certificates: " + openssl_error();
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file->c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
  }
  int mode = SSL_VERIFY_NONE;
  switch (config.client_auth) {
    case ClientAuth::kNone:
      break;
    case ClientAuth::kRequest:
    case ClientAuth::kRequireAny:
      // OpenSSL asks for a certificate only with verification on; the callback accepts any,
      // as Go does for these two modes.
      mode = SSL_VERIFY_PEER;
      if (config.client_auth == ClientAuth::kRequireAny) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      SSL_CTX_set_verify(native, mode, [](int, X509_STORE_CTX*) { return 1; });
      return context;
    case ClientAuth::kVerifyIfGiven:
      mode = SSL_VERIFY_PEER;
      break;
    case ClientAuth::kRequireAndVerify:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
  }
  SSL_CTX_set_verify(native, mode, nullptr);
  return context;
}

}  // namespace replywatch::server

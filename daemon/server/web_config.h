// The admin (and optionally ingest) listener's security settings, in the format of the
// Prometheus exporter toolkit's --web.config.file: `tls_server_config` (certificate, key,
// optional client CA) and `basic_auth_users` (user: bcrypt hash). One format for the whole
// Prometheus ecosystem means one file an operator already knows how to write.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace replywatch::server {

// The exporter toolkit's client_auth_type values, with Go's crypto/tls meanings.
enum class ClientAuth : std::uint8_t {
  kNone,              // NoClientCert
  kRequest,           // RequestClientCert: asked for, not checked
  kRequireAny,        // RequireAnyClientCert: required, not checked against the CA
  kVerifyIfGiven,     // VerifyClientCertIfGiven
  kRequireAndVerify,  // RequireAndVerifyClientCert
};

enum class TlsVersion : std::uint8_t { kTls10, kTls11, kTls12, kTls13 };

struct TlsServerConfig {
  // Paths as written, resolved against the web config file's directory when relative.
  std::string cert_file;
  std::string key_file;
  std::optional<std::string> client_ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
  TlsVersion min_version = TlsVersion::kTls12;
  std::optional<TlsVersion> max_version;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> basic_auth_users;  // user name -> bcrypt hash
  std::string path;                                     // the file it was read from

  // Whether a client must prove who it is: a password or a verified client certificate.
  bool authenticates() const {
    return !basic_auth_users.empty() || (tls && tls->client_auth == ClientAuth::kRequireAndVerify);
  }
};

struct WebConfigResult {
  std::optional<WebConfig> config;  // set exactly when `errors` is empty
  std::vector<std::string> errors;  // FILE:LINE:COL: message, every problem of the file
};

// Parses the text of a web config file named `path` (for messages and for resolving relative
// paths). Checks the shape and values only; the files it names are read by make_tls_context.
WebConfigResult parse_web_config(std::string_view text, const std::string& path);

WebConfigResult load_web_config(const std::string& path);

}  // namespace replywatch::server

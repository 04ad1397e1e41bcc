#include "web_config.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "yaml_checker.h"

namespace replywatch::server {
namespace {

using rules::Field;
using rules::in_quotes;
using rules::YamlChecker;

constexpr std::array<std::string_view, 3> kTopKeys = {"tls_server_config", "basic_auth_users",
                                                      "http_server_config"};
constexpr std::array<std::string_view, 13> kTlsKeys = {"cert_file",
                                                       "key_file",
                                                       "client_ca_file",
                                                       "client_auth_type",
                                                       "min_version",
                                                       "max_version",
                                                       "cipher_suites",
                                                       "curve_preferences",
                                                       "prefer_server_cipher_suites",
                                                       "client_allowed_sans",
                                                       "cert",
                                                       "key",
                                                       "client_ca"};
// Keys of the toolkit's format this daemon does not implement: refused by name rather than
// ignored, so a file never seems to do more than it does.
constexpr std::array<std::string_view, 7> kUnsupportedTlsKeys = {"cipher_suites",
                                                                 "curve_preferences",
                                                                 "prefer_server_cipher_suites",
                                                                 "client_allowed_sans",
                                                                 "cert",
                                                                 "key",
                                                                 "client_ca"};

// bcrypt's modular crypt format: $2a$, $2b$ or $2y$, a two-digit cost, '$', 22 characters of
// salt and 31 of hash in bcrypt's base64 alphabet.
bool looks_like_bcrypt(std::string_view hash) {
  if (hash.size() != 60 || !hash.starts_with("$2") || hash[3] != '$' || hash[6] != '$') {
    return false;
  }
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (const char c : hash.substr(7)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::string resolve(const std::string& file, const std::string& config_path) {
  const std::filesystem::path path(file);
  if (path.is_absolute()) return file;
  return (std::filesystem::path(config_path).parent_path() / path).lexically_normal().string();
}

std::optional<TlsVersion> tls_version(YamlChecker& check, const Field& field) {
  return check.choice<TlsVersion>(field, {{"TLS10", TlsVersion::kTls10},
                                          {"TLS11", TlsVersion::kTls11},
                                          {"TLS12", TlsVersion::kTls12},
                                          {"TLS13", TlsVersion::kTls13}});
}

std::optional<TlsServerConfig> read_tls(YamlChecker& check, const Field& field,
                                        const std::string& path) {
  const auto map = check.mapping(field, kTlsKeys);
  if (!map) return std::nullopt;
  TlsServerConfig tls;
  bool ok = true;
  for (const rules::Entry& entry : map->entries) {
    if (std::find(kUnsupportedTlsKeys.begin(), kUnsupportedTlsKeys.end(), entry.key) !=
        kUnsupportedTlsKeys.end()) {
      check.report(entry.key_at,
                   fmt::format("tls_server_config.{} is not supported by replywatch (supported: "
                               "cert_file, key_file, client_ca_file, client_auth_type, "
                               "min_version, max_version)",
                               entry.key));
      ok = false;
    }
  }
  auto file = [&](std::string_view key, std::string& out) {
    const rules::Entry* entry = map->find(key);
    if (entry == nullptr) return;
    const auto text = check.scalar(entry->field(), "a file name");
    if (!text || text->empty()) {
      if (text) check.report(entry->field().at, fmt::format("{} must not be empty", key));
      ok = false;
      return;
    }
    out = resolve(*text, path);
  };
  file("cert_file", tls.cert_file);
  file("key_file", tls.key_file);
  std::string ca;
  file("client_ca_file", ca);
  if (!ca.empty()) tls.client_ca_file = ca;
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    if (ok) {
      check.report(map->at, "tls_server_config needs both cert_file and key_file");
    }
    ok = false;
  }
  if (const rules::Entry* entry = map->find("client_auth_type")) {
    const auto auth = check.choice<ClientAuth>(
        entry->field(), {{"NoClientCert", ClientAuth::kNone},
                         {"RequestClientCert", ClientAuth::kRequest},
                         {"RequireAnyClientCert", ClientAuth::kRequireAny},
                         {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
                         {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify}});
    if (auth) {
      tls.client_auth = *auth;
    } else {
      ok = false;
    }
  }
  const bool verifies = tls.client_auth == ClientAuth::kVerifyIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerify;
  if (verifies && !tls.client_ca_file) {
    check.report(map->find("client_auth_type")->field().at,
                 "client_auth_type verifies client certificates: client_ca_file is needed");
    ok = false;
  }
  if (tls.client_ca_file && tls.client_auth == ClientAuth::kNone) {
    check.report(map->find("client_ca_file")->field().at,
                 "client_ca_file is set but client_auth_type is not: set client_auth_type "
                 "(e.g. RequireAndVerifyClientCert)");
    ok = false;
  }
  if (const rules::Entry* entry = map->find("min_version")) {
    if (auto version = tls_version(check, entry->field())) {
      tls.min_version = *version;
    } else {
      ok = false;
    }
  }
  if (const rules::Entry* entry = map->find("max_version")) {
    if (auto version = tls_version(check, entry->field())) {
      tls.max_version = *version;
      if (*version < tls.min_version) {
        check.report(entry->field().at, "max_version is below min_version");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return tls;
}

void read_users(YamlChecker& check, const Field& field, WebConfig& out) {
  if (field.node.IsNull()) return;  // "basic_auth_users:" with nothing: no users
  if (!field.node.IsMap()) {
    check.report(field.at, fmt::format("basic_auth_users must be a mapping of user name to "
                                       "bcrypt hash, not {}",
                                       rules::describe(field.node)));
    return;
  }
  for (const auto& item : field.node) {
    const SourcePosition key_at = rules::position_of(item.first.Mark());
    if (!item.first.IsScalar() || item.first.Scalar().empty()) {
      check.report(key_at, "a user name must be a non-empty string");
      continue;
    }
    const std::string user = item.first.Scalar();
    if (user.find(':') != std::string::npos) {
      check.report(key_at, fmt::format("user name {} contains ':', which Basic authentication "
                                       "cannot carry",
                                       in_quotes(user)));
      continue;
    }
    const Field value{"the password hash of " + in_quotes(user), item.second,
                      rules::position_of(item.second.Mark())};
    const auto hash = check.scalar(value, "a bcrypt hash");
    if (!hash) continue;
    if (!looks_like_bcrypt(*hash)) {
      check.report(value.at,
                   fmt::format("the password hash of {} is not a bcrypt hash ($2y$, $2b$ or $2a$ "
                               "with a cost from 04 to 31, e.g. from htpasswd -nbB)",
                               in_quotes(user)));
      continue;
    }
    if (!out.basic_auth_users.emplace(user, *hash).second) {
      check.report(key_at, fmt::format("user {} is listed twice", in_quotes(user)));
    }
  }
}

}  // namespace

WebConfigResult parse_web_config(std::string_view text, const std::string& path) {
  YamlChecker check(path);
  WebConfigResult result;
  WebConfig config;
  config.path = path;
  try {
    const auto document = check.only_document(
        text, "the web config file is empty (expected tls_server_config and/or basic_auth_users)");
    if (document) {
      const auto top = check.mapping(
          Field{"the web config", *document, rules::position_of(document->Mark())}, kTopKeys);
      if (top) {
        if (const rules::Entry* entry = top->find("http_server_config")) {
          check.report(entry->key_at,
                       "http_server_config is not supported by replywatch (HTTP/1.1 only; "
                       "the console sets its own security headers)");
        }
        if (const rules::Entry* entry = top->find("tls_server_config")) {
          config.tls = read_tls(check, entry->field(), path);
        }
        if (const rules::Entry* entry = top->find("basic_auth_users")) {
          read_users(check, entry->field(), config);
        }
      }
    }
  } catch (const YAML::Exception& error) {
    check.report(rules::position_of(error.mark), error.msg);
  }
  for (const RuleError& error : check.take_errors()) result.errors.push_back(error.to_string());
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

WebConfigResult load_web_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return WebConfigResult{std::nullopt, {path + ": cannot read the web config file"}};
  std::stringstream text;
  text << in.rdbuf();
  return parse_web_config(text.str(), path);
}

}  // namespace replywatch::server

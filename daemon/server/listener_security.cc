#include "listener_security.h"

#include <fmt/format.h>

#include "tls_context.h"

namespace replywatch::server {
namespace {

// Reads one web config and builds its TLS context; problems are appended.
std::optional<WebConfig> read(const std::string& path,
                              std::shared_ptr<boost::asio::ssl::context>& tls,
                              std::vector<std::string>& problems) {
  WebConfigResult loaded = load_web_config(path);
  if (!loaded.config) {
    problems.insert(problems.end(), loaded.errors.begin(), loaded.errors.end());
    return std::nullopt;
  }
  if (loaded.config->tls) {
    auto context = make_tls_context(*loaded.config->tls);
    if (auto* error = std::get_if<std::string>(&context)) {
      problems.push_back(fmt::format("{}: tls_server_config: {}", path, *error));
      return std::nullopt;
    }
    tls = std::get<std::shared_ptr<boost::asio::ssl::context>>(std::move(context));
  }
  return loaded.config;
}

}  // namespace

std::string ListenerSecurity::describe_admin() const {
  std::string auth = "no authentication";
  if (!admin_users.empty()) {
    auth = fmt::format("Basic authentication ({} user(s))", admin_users.size());
  }
  if (admin_client_certificates) {
    auth =
        (admin_users.empty() ? "" : auth + " and ") + std::string("verified client certificates");
  }
  return fmt::format("admin listener: {}, {}", admin_tls ? "TLS" : "plain HTTP (no TLS)", auth);
}

std::string ListenerSecurity::describe_ingest() const {
  return fmt::format("ingest listener: {}", ingest_tls ? "TLS" : "plain HTTP (no TLS)");
}

std::vector<std::string> load_listener_security(const DaemonConfig& config, ListenerSecurity& out) {
  std::vector<std::string> problems;
  if (config.web_config_file) {
    if (auto admin = read(*config.web_config_file, out.admin_tls, problems)) {
      out.admin_users = admin->basic_auth_users;
      out.admin_client_certificates =
          admin->tls && admin->tls->client_auth == ClientAuth::kRequireAndVerify;
    }
  }
  if (config.ingest_web_config_file) {
    if (auto ingest = read(*config.ingest_web_config_file, out.ingest_tls, problems)) {
      if (!ingest->basic_auth_users.empty()) {
        problems.push_back(fmt::format(
            "{}: basic_auth_users does not apply to the ingest listener (webhooks are "
            "authenticated by their signature, ingest_secret_file); remove it from this file",
            *config.ingest_web_config_file));
      }
    }
  }
  if (!problems.empty()) return problems;
  if (!config.admin_insecure && !is_loopback_host(config.admin_listen.host)) {
    const bool authenticates = !out.admin_users.empty() || out.admin_client_certificates;
    if (!out.admin_tls || !authenticates) {
      problems.push_back(fmt::format(
          "admin_listen {} is not a loopback address and the admin listener has {}: give it a "
          "web_config_file (--web-config-file) with tls_server_config and basic_auth_users, "
          "listen on 127.0.0.1, or set admin_insecure (--admin-insecure) if a proxy in front "
          "of it adds both",
          config.admin_listen.to_string(),
          !out.admin_tls && !authenticates ? "no TLS and no authentication"
          : !out.admin_tls                 ? "no TLS (passwords would cross the network in clear)"
                                           : "no authentication"));
    }
  }
  return problems;
}

}  // namespace replywatch::server

#include "daemon_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>

#include "adapter_config.h"
#include "alertmanager_client.h"
#include "yaml_checker.h"

namespace replywatch::server {
namespace {

// Every key of the config file: the one list the docs are checked against (docs/operations.md),
// and what the file reader knows. A key added to apply_setting must be added here too.
constexpr std::array<std::string_view, 31> kConfigKeys = {"rules",
                                                          "data",
                                                          "ingest_listen",
                                                          "admin_listen",
                                                          "ingest_secret_file",
                                                          "allowed_lateness",
                                                          "max_future_skew",
                                                          "dedup_retention",
                                                          "max_body_bytes",
                                                          "max_connections",
                                                          "read_timeout",
                                                          "idle_timeout",
                                                          "max_events_per_request",
                                                          "max_inflight_body_bytes",
                                                          "max_shops",
                                                          "admin_hosts",
                                                          "admin_insecure",
                                                          "fsync",
                                                          "fsync_interval",
                                                          "journal_repair",
                                                          "web_config_file",
                                                          "ingest_web_config_file",
                                                          "snapshot_every_events",
                                                          "snapshot_interval",
                                                          "snapshots_kept",
                                                          "log_segment_bytes",
                                                          "alertmanager",
                                                          "adapters",
                                                          "log",
                                                          "ingest",
                                                          "consume"};
// The keys of the `alertmanager` mapping.
constexpr std::array<std::string_view, 3> kAlertmanagerKeys = {"urls", "external_url",
                                                               "resend_interval"};

std::optional<std::uint64_t> parse_unsigned(const std::string& text, std::uint64_t max) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty() || value > max) return std::nullopt;
  return value;
}

std::optional<std::string> set_duration(Duration& out, const std::string& value, bool allow_zero) {
  const auto parsed = parse_duration(value);
  if (!parsed || *parsed < Duration::zero() || (!allow_zero && *parsed == Duration::zero())) {
    return fmt::format("\"{}\" is not a {}duration (e.g. 2s, 500ms, 5m, 24h)", value,
                       allow_zero ? "" : "positive ");
  }
  out = *parsed;
  return std::nullopt;
}

std::optional<std::string> set_address(ListenAddress& out, const std::string& value) {
  const auto parsed = parse_listen_address(value);
  if (!parsed) return fmt::format("\"{}\" is not HOST:PORT (e.g. 127.0.0.1:9870)", value);
  out = *parsed;
  return std::nullopt;
}

// `max` must fit in Count.
template <typename Count>
std::optional<std::string> set_count(Count& out, const std::string& value, std::uint64_t min,
                                     std::uint64_t max, const char* what) {
  const auto parsed = parse_unsigned(value, max);
  if (!parsed || *parsed < min) {
    return fmt::format("\"{}\" is not {} from {} to {}", value, what, min, max);
  }
  out = static_cast<Count>(*parsed);
  return std::nullopt;
}

// A config file is one YAML document. yaml-cpp reads a stray "," as an empty document (and
// stays on it), and YAML::Load silently drops a second document: both would run the daemon on
// settings other than the file's. Counting stops at two documents or when the parser is stuck.
std::optional<YAML::Mark> extra_document(const std::string& text) {
  const std::vector<YAML::Mark> starts = rules::document_starts(text, 2);
  if (starts.size() < 2) return std::nullopt;
  return starts[1];
}

}  // namespace

std::span<const std::string_view> config_file_keys() { return kConfigKeys; }

std::span<const std::string_view> alertmanager_config_keys() { return kAlertmanagerKeys; }

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

namespace {

// The `alertmanager` mapping: urls, external_url, resend_interval.
void read_alertmanager(const YAML::Node& node, AlertmanagerConfig& out,
                       const std::function<std::string(const YAML::Mark&)>& at,
                       std::vector<std::string>& errors) {
  if (!node.IsMap()) {
    errors.push_back(
        fmt::format("{}: alertmanager must be a mapping with urls (a list of "
                    "http://HOST:PORT)",
                    at(node.Mark())));
    return;
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (std::find(kAlertmanagerKeys.begin(), kAlertmanagerKeys.end(), key) ==
        kAlertmanagerKeys.end()) {
      errors.push_back(
          fmt::format("{}: alertmanager: unknown key \"{}\" (known: urls, "
                      "external_url, resend_interval)",
                      at(entry.first.Mark()), key));
      continue;
    }
    if (key == "urls") {
      if (!value.IsSequence()) {
        errors.push_back(fmt::format("{}: alertmanager.urls must be a list of http://HOST:PORT",
                                     at(value.Mark())));
        continue;
      }
      for (const auto& item : value) {
        if (!item.IsScalar() || !parse_http_url(item.Scalar())) {
          errors.push_back(fmt::format(
              "{}: alertmanager.urls: \"{}\" is not http://HOST[:PORT][/PREFIX] (https is not "
              "supported; use a local proxy)",
              at(item.Mark()), item.IsScalar() ? item.Scalar() : std::string("(not a value)")));
          continue;
        }
        out.urls.push_back(item.Scalar());
      }
    } else if (key == "external_url") {
      if (!value.IsScalar() ||
          !(value.Scalar().starts_with("http://") || value.Scalar().starts_with("https://"))) {
        errors.push_back(
            fmt::format("{}: alertmanager.external_url must be an http(s) URL", at(value.Mark())));
        continue;
      }
      std::string url = value.Scalar();
      while (url.ends_with('/')) url.pop_back();
      out.external_url = url;
    } else if (key == "resend_interval") {
      if (!value.IsScalar()) {
        errors.push_back(
            fmt::format("{}: alertmanager.resend_interval must be a duration", at(value.Mark())));
      } else if (auto problem = set_duration(out.resend_interval, value.Scalar(), false)) {
        errors.push_back(
            fmt::format("{}: alertmanager.resend_interval: {}", at(value.Mark()), *problem));
      }
    } else {
      errors.push_back(
          fmt::format("{}: alertmanager: unknown key \"{}\" (known: urls, "
                      "external_url, resend_interval)",
                      at(entry.first.Mark()), key));
    }
  }
}

}  // namespace

std::string ListenAddress::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // a bare IPv6 address needs brackets
  }
  const auto port = parse_unsigned(std::string(text.substr(colon + 1)), 65535);
  if (!port) return std::nullopt;
  if (host != "localhost") {
    boost::system::error_code error;
    boost::asio::ip::make_address(host, error);
    if (error) return std::nullopt;
  }
  return ListenAddress{host, static_cast<std::uint16_t>(*port)};
}

std::optional<std::string> apply_setting(DaemonConfig& config, std::string_view key,
                                         const std::string& value) {
  if (key == "rules" || key == "data") {
    if (value.empty()) return std::string("must not be empty");
    (key == "rules" ? config.rules : config.data) = value;
    return std::nullopt;
  }
  if (key == "ingest_listen") return set_address(config.ingest_listen, value);
  if (key == "admin_listen") return set_address(config.admin_listen, value);
  if (key == "ingest_secret_file") {
    if (value.empty()) return std::string("must not be empty");
    config.ingest_secret_file = value;
    return std::nullopt;
  }
  if (key == "web_config_file" || key == "ingest_web_config_file") {
    if (value.empty()) return std::string("must not be empty");
    (key == "web_config_file" ? config.web_config_file : config.ingest_web_config_file) = value;
    return std::nullopt;
  }
  if (key == "allowed_lateness") return set_duration(config.allowed_lateness, value, true);
  if (key == "max_future_skew") return set_duration(config.max_future_skew, value, true);
  if (key == "dedup_retention") return set_duration(config.dedup_retention, value, true);
  if (key == "read_timeout") return set_duration(config.read_timeout, value, false);
  if (key == "idle_timeout") return set_duration(config.idle_timeout, value, false);
  if (key == "max_body_bytes") {
    // 1 GiB: beyond that one request would hold the single I/O thread for too long.
    return set_count(config.max_body_bytes, value, 1, std::uint64_t{1} << 30, "a byte count");
  }
  if (key == "max_events_per_request") {
    return set_count(config.max_events_per_request, value, 1, 10'000'000, "an event count");
  }
  if (key == "max_inflight_body_bytes") {
    return set_count(config.max_inflight_body_bytes, value, 0, std::uint64_t{1} << 40,
                     "a byte count");
  }
  if (key == "max_shops") return set_count(config.max_shops, value, 0, 10'000'000, "a shop count");
  if (key == "snapshot_every_events") {
    return set_count(config.snapshot_every_events, value, 0, std::uint64_t{1} << 40,
                     "an event count");
  }
  if (key == "snapshot_interval") return set_duration(config.snapshot_interval, value, false);
  if (key == "snapshots_kept") {
    return set_count(config.snapshots_kept, value, 1, 100, "a snapshot count");
  }
  if (key == "log_segment_bytes") {
    return set_count(config.log_segment_bytes, value, 4096, std::uint64_t{1} << 32, "a byte count");
  }
  if (key == "admin_hosts") {
    std::vector<std::string> hosts;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      if (name.empty() || name.find_first_of("/:@ ") != std::string_view::npos) {
        return fmt::format("\"{}\" is not a comma-separated list of host names", value);
      }
      hosts.emplace_back(name);
    }
    config.admin_hosts = std::move(hosts);
    return std::nullopt;
  }
  if (key == "admin_insecure") {
    if (value != "true" && value != "false")
      return fmt::format("\"{}\" is not true or false", value);
    config.admin_insecure = value == "true";
    return std::nullopt;
  }
  if (key == "fsync") {
    if (value != "always" && value != "interval") {
      return fmt::format("\"{}\" is not always or interval", value);
    }
    config.fsync = value == "always" ? FsyncMode::kAlways : FsyncMode::kInterval;
    return std::nullopt;
  }
  if (key == "fsync_interval") return set_duration(config.fsync_interval, value, false);
  if (key == "journal_repair") {
    if (value != "true" && value != "false")
      return fmt::format("\"{}\" is not true or false", value);
    config.journal_repair = value == "true";
    return std::nullopt;
  }
  if (key == "max_connections") {
    return set_count(config.max_connections, value, 1, 1'000'000, "a connection count");
  }
  if (key == "log") return std::string("is a mapping: set it in the config file");
  return fmt::format("unknown key \"{}\"", key);
}

std::vector<std::string> load_config_file(const std::string& path, DaemonConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {fmt::format("{}: cannot read the config file", path)};
  std::stringstream text;
  text << in.rdbuf();
  auto at = [&](const YAML::Mark& mark) {
    return fmt::format("{}:{}:{}", path, mark.line + 1, mark.column + 1);
  };
  YAML::Node root;
  try {
    if (const auto second = extra_document(text.str())) {
      return {fmt::format("{}: a config file holds one YAML mapping; this is not part of it",
                          at(*second))};
    }
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& error) {
    return {fmt::format("{}: {}", at(error.mark), error.msg)};
  }
  if (root.IsNull()) return {};  // an empty file keeps every default
  if (!root.IsMap()) return {fmt::format("{}: the config file must be a mapping", at(root.Mark()))};

  DaemonConfig updated = config;
  std::vector<std::string> errors;
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    if (std::find(kConfigKeys.begin(), kConfigKeys.end(), key) == kConfigKeys.end()) {
      errors.push_back(fmt::format("{}: {}: unknown key \"{}\"", at(entry.first.Mark()), key, key));
      continue;
    }
    if (key == "admin_hosts" && entry.second.IsSequence()) {
      std::string joined;
      for (const auto& item : entry.second) joined += (joined.empty() ? "" : ",") + item.Scalar();
      if (auto problem = apply_setting(updated, key, joined)) {
        errors.push_back(fmt::format("{}: {}: {}", at(entry.second.Mark()), key, *problem));
      }
      continue;
    }
    if (key == "adapters") {
      updated.adapters = adapters::read_adapters(entry.second, at, errors);
      continue;
    }
    if (key == "log") {
      jetstream::read_log_config(entry.second, updated.log, at, errors);
      continue;
    }
    if (key == "ingest") {
      jetstream::read_ingest(entry.second, updated.ingest, at, errors);
      continue;
    }
    if (key == "consume") {
      jetstream::read_consume(entry.second, updated.consume, at, errors);
      continue;
    }
    if (key == "alertmanager") {
      updated.alertmanager = AlertmanagerConfig{};
      read_alertmanager(entry.second, updated.alertmanager, at, errors);
      continue;
    }
    if (!entry.second.IsScalar()) {
      errors.push_back(
          fmt::format("{}: \"{}\" must be a single value", at(entry.second.Mark()), key));
      continue;
    }
    if (auto problem = apply_setting(updated, key, entry.second.Scalar())) {
      const YAML::Mark mark =
          problem->starts_with("unknown key") ? entry.first.Mark() : entry.second.Mark();
      errors.push_back(fmt::format("{}: {}: {}", at(mark), key, *problem));
    }
  }
  if (errors.empty()) config = updated;
  return errors;
}

std::vector<std::string> validate_config(const DaemonConfig& config) {
  std::vector<std::string> problems;
  // With a web config, whether it secures a non-loopback admin_listen enough is checked when
  // it is read (load_listener_security).
  if (!config.admin_insecure && !config.web_config_file &&
      !is_loopback_host(config.admin_listen.host)) {
    problems.push_back(fmt::format(
        "admin_listen {} is not a loopback address, and the admin listener has no TLS or "
        "authentication: give it a web_config_file (--web-config-file) with tls_server_config "
        "and basic_auth_users, listen on 127.0.0.1, or set admin_insecure (--admin-insecure) "
        "if a proxy in front of it adds both",
        config.admin_listen.to_string()));
  }
  if (config.max_inflight_body_bytes != 0 &&
      config.max_inflight_body_bytes < config.max_body_bytes) {
    problems.push_back(fmt::format(
        "max_inflight_body_bytes {} is below max_body_bytes {}: no full-size request could be "
        "read",
        config.max_inflight_body_bytes, config.max_body_bytes));
  }
  if (config.ingest && !config.ingest_secret_file && !is_loopback_host(config.ingest_listen.host)) {
    problems.push_back(fmt::format(
        "ingest_listen {} is not a loopback address: set ingest_secret_file so that webhooks "
        "are signed, or listen on 127.0.0.1",
        config.ingest_listen.to_string()));
  }
  if (!config.log.jetstream() &&
      (!config.ingest || config.consume.mode != jetstream::ConsumeConfig::Mode::kAll)) {
    problems.emplace_back(
        "ingest and consume are roles on a shared stream: they need log.kind jetstream (a "
        "daemon with its own log ingests and applies every event)");
  }
  if (config.log.jetstream() && !config.ingest && !config.consume.consumes_any()) {
    problems.emplace_back("ingest: false with consume: none leaves this daemon nothing to do");
  }
  for (std::string& problem : jetstream::consume_problems(config.consume, config.log.partitions)) {
    problems.push_back(std::move(problem));
  }
  return problems;
}

}  // namespace replywatch::server

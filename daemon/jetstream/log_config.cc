#include "log_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

namespace replywatch::jetstream {
namespace {

constexpr std::array<std::string_view, 8> kLogKeys = {
    "kind",       "servers",  "stream",          "subject_prefix",
    "partitions", "replicas", "publish_timeout", "reconnect_max_wait"};

// Partitions are subjects and durable consumers: a few thousand at most is what a stream of
// one deployment should hold.
constexpr std::uint32_t kMaxPartitions = 4096;
// JetStream's own limit on replicas of a stream.
constexpr std::uint32_t kMaxReplicas = 5;

std::string known_keys() {
  std::string joined;
  for (const std::string_view key : kLogKeys) {
    if (!joined.empty()) joined += ", ";
    joined += key;
  }
  return joined;
}

bool parse_count(const std::string& text, std::uint32_t min, std::uint32_t max,
                 std::uint32_t& out) {
  std::uint32_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < min || value > max) return false;
  out = value;
  return true;
}

// nats://HOST:PORT (or tls://), HOST a name or an address, PORT 1..65535.
bool valid_server_url(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("nats://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("tls://")) {
    rest.remove_prefix(6);
  } else {
    return false;
  }
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = rest.substr(0, colon);
  if (host.find_first_of("/@ ,") != std::string_view::npos) return false;
  std::uint32_t port = 0;
  return parse_count(std::string(rest.substr(colon + 1)), 1, 65535, port);
}

}  // namespace

std::string LogConfig::subject_of(std::uint32_t partition) const {
  return fmt::format("{}.{}", subject_prefix, partition);
}

std::vector<std::string> log_config_keys() {
  return std::vector<std::string>(kLogKeys.begin(), kLogKeys.end());
}

bool valid_stream_name(const std::string& text) {
  if (text.empty() || text.size() > 255) return false;
  return std::none_of(text.begin(), text.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' ||
           static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

bool valid_subject_prefix(const std::string& text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  if (text.find("..") != std::string::npos) return false;
  return std::none_of(text.begin(), text.end(), [](char c) {
    return c == '*' || c == '>' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

void read_log_config(const YAML::Node& value, LogConfig& config,
                     const std::function<std::string(const YAML::Mark&)>& at,
                     std::vector<std::string>& errors) {
  if (!value.IsMap()) {
    errors.push_back(
        fmt::format("{}: log must be a mapping (kind: local, or kind: jetstream with servers)",
                    at(value.Mark())));
    return;
  }
  const std::size_t errors_before = errors.size();
  LogConfig updated = config;
  bool servers_given = false;
  YAML::Mark kind_at = value.Mark();
  for (const auto& entry : value) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& item = entry.second;
    if (std::find(kLogKeys.begin(), kLogKeys.end(), key) == kLogKeys.end()) {
      errors.push_back(fmt::format("{}: log: unknown key \"{}\" (known: {})",
                                   at(entry.first.Mark()), key, known_keys()));
      continue;
    }
    // An empty value has the position of whatever follows it; the key is the honest place.
    const YAML::Mark mark = item.IsNull() ? entry.first.Mark() : item.Mark();
    if (key == "servers") {
      servers_given = true;
      if (!item.IsSequence() || item.size() == 0) {
        errors.push_back(
            fmt::format("{}: log.servers must be a non-empty list of nats://HOST:PORT", at(mark)));
        continue;
      }
      updated.servers.clear();
      for (const auto& server : item) {
        if (!server.IsScalar() || !valid_server_url(server.Scalar())) {
          errors.push_back(fmt::format("{}: log.servers: \"{}\" is not nats://HOST:PORT",
                                       at(server.Mark()),
                                       server.IsScalar() ? server.Scalar() : "(not a value)"));
          continue;
        }
        updated.servers.push_back(server.Scalar());
      }
      continue;
    }
    if (!item.IsScalar()) {
      errors.push_back(fmt::format("{}: log.{} must be a single value", at(mark), key));
      continue;
    }
    const std::string& text = item.Scalar();
    if (key == "kind") {
      kind_at = mark;
      if (text == "local") {
        updated.kind = LogKind::kLocal;
      } else if (text == "jetstream") {
        updated.kind = LogKind::kJetStream;
      } else {
        errors.push_back(
            fmt::format("{}: log.kind: \"{}\" is not local or jetstream", at(mark), text));
      }
    } else if (key == "stream") {
      if (!valid_stream_name(text)) {
        errors.push_back(
            fmt::format("{}: log.stream: \"{}\" is not a stream name (1 to 255 characters, none of "
                        "'.', '*', '>', '/', '\\', spaces or control characters)",
                        at(mark), text));
      } else {
        updated.stream = text;
      }
    } else if (key == "subject_prefix") {
      if (!valid_subject_prefix(text)) {
        errors.push_back(fmt::format(
            "{}: log.subject_prefix: \"{}\" is not a subject (dot-separated non-empty tokens, "
            "no '*', '>', spaces or control characters)",
            at(mark), text));
      } else {
        updated.subject_prefix = text;
      }
    } else if (key == "partitions") {
      if (!parse_count(text, 1, kMaxPartitions, updated.partitions)) {
        errors.push_back(fmt::format("{}: log.partitions: \"{}\" is not a count from 1 to {}",
                                     at(mark), text, kMaxPartitions));
      }
    } else if (key == "replicas") {
      if (!parse_count(text, 1, kMaxReplicas, updated.replicas)) {
        errors.push_back(fmt::format("{}: log.replicas: \"{}\" is not a count from 1 to {}",
                                     at(mark), text, kMaxReplicas));
      }
    } else if (key == "publish_timeout" || key == "reconnect_max_wait") {
      const auto parsed = parse_duration(text);
      if (!parsed || *parsed <= Duration::zero()) {
        errors.push_back(fmt::format(
            "{}: log.{}: \"{}\" is not a positive duration (e.g. 500ms, 5s)", at(mark), key, text));
      } else {
        (key == "publish_timeout" ? updated.publish_timeout : updated.reconnect_max_wait) = *parsed;
      }
    }
  }
  if (errors.size() == errors_before && updated.jetstream() && updated.servers.empty()) {
    errors.push_back(
        fmt::format("{}: log.kind jetstream needs log.servers (a list of nats://HOST:PORT)",
                    at(servers_given ? value.Mark() : kind_at)));
  }
  if (errors.size() == errors_before) config = std::move(updated);
}

}  // namespace replywatch::jetstream

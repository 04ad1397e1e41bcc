// Settings of `replywatch run` (docs/operations.md, "Configuration reference"): a YAML file, then
// flags on top.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consume_config.h"
#include "log_config.h"
#include "replywatch/time.h"

namespace replywatch::adapters {
class AdapterSet;
}

namespace replywatch::server {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;

  std::string to_string() const;  // HOST:PORT, IPv6 hosts in brackets
};

// HOST:PORT or [IPV6]:PORT; the port may be 0.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// Conversation-level alerts sent straight to Alertmanager (off while `urls` is empty).
struct AlertmanagerConfig {
  std::vector<std::string> urls;  // http://HOST:PORT[/PREFIX], each validated
  // How people reach the admin listener, for the at-risk link in the alerts; by default
  // http://ADMIN_LISTEN.
  std::optional<std::string> external_url;
  Duration resend_interval = std::chrono::minutes(1);
};

// When an appended event counts as durable (the event log's group commit).
enum class FsyncMode : std::uint8_t {
  kAlways,    // after the fdatasync that covers it: nothing acknowledged is lost
  kInterval,  // once written; synced every fsync_interval: a power loss may lose that window
};

struct DaemonConfig {
  std::string rules = "rules";
  std::string data = "replywatch-data";
  ListenAddress ingest_listen{"127.0.0.1", 9870};
  ListenAddress admin_listen{"127.0.0.1", 9871};
  std::optional<std::string> ingest_secret_file;
  Duration allowed_lateness = std::chrono::seconds(2);
  Duration max_future_skew = std::chrono::minutes(5);
  Duration dedup_retention = std::chrono::hours(24);
  std::uint64_t max_body_bytes = std::uint64_t{16} * 1024 * 1024;
  std::uint32_t max_connections = 1024;  // per listener
  Duration read_timeout = std::chrono::seconds(30);
  Duration idle_timeout = std::chrono::seconds(60);
  // Events in one request; more is 413 (bounds one request's work and memory).
  std::uint64_t max_events_per_request = 100'000;
  // Request bodies held at once on the ingest listener; beyond it 503 with Retry-After.
  std::uint64_t max_inflight_body_bytes = std::uint64_t{256} * 1024 * 1024;
  // Shops per platform without an allow-list; events of further shops are too_many_shops.
  std::uint32_t max_shops = 1000;
  // Names (besides localhost and loopback addresses) the admin listener answers to in Host
  // and Origin.
  std::vector<std::string> admin_hosts;
  // Allows a non-loopback admin_listen without TLS and authentication (a proxy adds them).
  bool admin_insecure = false;
  FsyncMode fsync = FsyncMode::kAlways;
  Duration fsync_interval = std::chrono::seconds(1);
  // Start even though the log has damaged records: skip them (counted) instead of refusing.
  bool journal_repair = false;
  // Prometheus exporter-toolkit web config (tls_server_config, basic_auth_users) for the admin
  // listener, and one (tls_server_config only) for the ingest listener.
  std::optional<std::string> web_config_file;
  std::optional<std::string> ingest_web_config_file;
  AlertmanagerConfig alertmanager;  // config file only: `alertmanager: {urls: [...]}`
  // Help-desk adapters (config file only: `adapters: [...]`, adapter_config.h); secrets read.
  std::shared_ptr<const adapters::AdapterSet> adapters;
  // Snapshots of the state (DATA/snapshots): taken after this many logged events, or after
  // this long with at least one; the newest `snapshots_kept` are kept. 0 events: none by count.
  std::uint64_t snapshot_every_events = 1'000'000;
  Duration snapshot_interval = std::chrono::minutes(10);
  std::uint32_t snapshots_kept = 2;
  // Size at which the event log starts a new segment file; retention deletes whole segments.
  std::uint64_t log_segment_bytes = std::uint64_t{64} << 20;
  // Where accepted events are kept: the data directory (local) or a JetStream stream.
  jetstream::LogConfig log;  // config file only: `log: {kind: jetstream, servers: [...]}`
  // Roles on a shared stream (docs/scale-out.md): take webhooks, apply these partitions.
  bool ingest = true;
  jetstream::ConsumeConfig consume;
};

// Every key a config file may hold (flags are these with '-' for '_', less `alertmanager`), and
// the keys of its `alertmanager` mapping. docs/operations.md is checked against both.
std::span<const std::string_view> config_file_keys();
std::span<const std::string_view> alertmanager_config_keys();

// Whether `host` (an address or "localhost") is a loopback address.
bool is_loopback_host(const std::string& host);

// Reads a config file over `config`; keys absent from the file keep their value. Every problem
// is reported as FILE:LINE:COL: message; on any problem `config` is unchanged.
std::vector<std::string> load_config_file(const std::string& path, DaemonConfig& config);

// Applies one setting by its key (the file's spelling, e.g. "max_body_bytes"). Returns an error
// message, or nothing when the value was taken. Shared by the file and the flags.
std::optional<std::string> apply_setting(DaemonConfig& config, std::string_view key,
                                         const std::string& value);

// Checks that hold across settings; returns every problem.
std::vector<std::string> validate_config(const DaemonConfig& config);

}  // namespace replywatch::server

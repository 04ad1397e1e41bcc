#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "daemon.h"
#include "daemon_config.h"
#include "log.h"
#include "time_source.h"

namespace replywatch::cli {
namespace {

constexpr const char* kRunUsage =
    "usage: replywatch run [--config FILE] [options]\n"
    "\n"
    "Runs the daemon: signed webhook ingest, real-time SLA deadlines, Prometheus metrics and the\n"
    "admin API. Every option can also be set in the YAML config file under the same name with\n"
    "'_' for '-' (e.g. max_body_bytes); flags win over the file.\n"
    "\n"
    "  --config FILE                 YAML config file\n"
    "  --rules DIR                   rule directory (default: rules)\n"
    "  --data DIR                    data directory: event log, lock (default: replywatch-data)\n"
    "  --ingest-listen HOST:PORT     webhook listener (default: 127.0.0.1:9870; port 0 picks one)\n"
    "  --admin-listen HOST:PORT      admin listener (default: 127.0.0.1:9871)\n"
    "  --ingest-secret-file FILE     HMAC-SHA256 secret; required to listen beyond loopback\n"
    "  --allowed-lateness DURATION   reorder window (default: 2s)\n"
    "  --max-future-skew DURATION    events further ahead of the clock are rejected (default: 5m)\n"
    "  --dedup-retention DURATION    how long an event id makes copies duplicates (default: 24h)\n"
    "  --max-body-bytes N            largest request body (default: 16777216)\n"
    "  --max-connections N           open connections per listener (default: 1024)\n"
    "  --read-timeout DURATION       time to receive one request (default: 30s)\n"
    "  --idle-timeout DURATION       keep-alive idle limit (default: 60s)\n"
    "  --max-events-per-request N    events in one request; more is 413 (default: 100000)\n"
    "  --max-inflight-body-bytes N   request bodies held at once on ingest; beyond it 503\n"
    "                                (default: 268435456; 0: no limit)\n"
    "  --max-shops N                 shops per platform without an allow-list (default: 1000;\n"
    "                                0: no limit)\n"
    "  --admin-hosts NAMES           comma-separated names the admin listener answers to\n"
    "                                besides localhost and loopback addresses\n"
    "  --admin-insecure              allow a non-loopback --admin-listen (no TLS, no auth)\n"
    "  --fsync always|interval       when an event is durable: after its fdatasync (default),\n"
    "                                or once written, synced every --fsync-interval\n"
    "  --fsync-interval DURATION     sync period under --fsync interval (default: 1s)\n"
    "  --journal-repair              start even if the event log has damaged records: skip\n"
    "                                and count them\n"
    "  --help                        this text\n"
    "  --version                     print the version\n"
    "\n"
    "Signals: SIGHUP reloads the rules; SIGTERM and SIGINT stop gracefully.\n";

constexpr std::array<const char*, 20> kSettingFlags = {"rules",
                                                       "data",
                                                       "ingest-listen",
                                                       "admin-listen",
                                                       "ingest-secret-file",
                                                       "allowed-lateness",
                                                       "max-future-skew",
                                                       "dedup-retention",
                                                       "max-body-bytes",
                                                       "max-connections",
                                                       "read-timeout",
                                                       "idle-timeout",
                                                       "max-events-per-request",
                                                       "max-inflight-body-bytes",
                                                       "max-shops",
                                                       "admin-hosts",
                                                       "admin-insecure",
                                                       "fsync",
                                                       "fsync-interval",
                                                       "journal-repair"};

}  // namespace

int run_daemon(const std::vector<std::string>& args) {
  auto usage_error = [](const std::string& message) {
    fmt::print(stderr, "replywatch run: {}\n\n{}", message, kRunUsage);
    return kExitUsage;
  };
  std::optional<std::string> config_file;
  std::vector<std::pair<std::string, std::string>> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kRunUsage);
      return kExitOk;
    }
    if (arg == "--version") {
      fmt::print("{}\n", version_line());
      return kExitOk;
    }
    if (!arg.starts_with("--")) return usage_error(fmt::format("unexpected argument \"{}\"", arg));
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool known = name == "config" || std::find(kSettingFlags.begin(), kSettingFlags.end(),
                                                     name) != kSettingFlags.end();
    if (!known) return usage_error(fmt::format("unknown option --{}", name));
    if (!value && (name == "admin-insecure" || name == "journal-repair"))
      value = "true";  // switches
    if (!value) {
      if (i + 1 >= args.size()) return usage_error(fmt::format("--{} needs a value", name));
      value = args[++i];
    }
    if (name == "config") {
      config_file = *value;
    } else {
      flags.emplace_back(name, *value);
    }
  }

  server::DaemonConfig config;
  if (config_file) {
    const auto errors = server::load_config_file(*config_file, config);
    for (const std::string& error : errors) fmt::print(stderr, "{}\n", error);
    if (!errors.empty()) return kExitUsage;
  }
  for (const auto& [name, value] : flags) {
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    if (auto problem = server::apply_setting(config, key, value)) {
      return usage_error(fmt::format("--{}: {}", name, *problem));
    }
  }
  const server::SystemTimeSource time;
  const server::Logger log(time);
  // Never destroyed: with millions of dedup ids, freeing the engine alone can outlast the 5 s a
  // graceful stop has. Everything acknowledged is already on disk, so the exit skips teardown.
  auto* daemon = new server::Daemon(std::move(config), time, log);
  const int code = daemon->run();
  std::fflush(stderr);
  std::_Exit(code);
}

}  // namespace replywatch::cli

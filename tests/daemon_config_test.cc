// Settings of `replywatch run` (docs/operations.md): listen addresses, one setting at a time, the
// config file with FILE:LINE:COL errors, and the checks across settings.
#include "daemon_config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "replywatch/time.h"
#include "temp_dir.h"

using replywatch::Duration;
using replywatch::server::apply_setting;
using replywatch::server::DaemonConfig;
using replywatch::server::ListenAddress;
using replywatch::server::load_config_file;
using replywatch::server::parse_listen_address;
using replywatch::server::validate_config;

namespace fs = std::filesystem;

namespace {

using rwtest::TempDir;

bool same_config(const DaemonConfig& a, const DaemonConfig& b) {
  return a.rules == b.rules && a.data == b.data && a.ingest_listen.host == b.ingest_listen.host &&
         a.ingest_listen.port == b.ingest_listen.port &&
         a.admin_listen.host == b.admin_listen.host && a.admin_listen.port == b.admin_listen.port &&
         a.ingest_secret_file == b.ingest_secret_file && a.allowed_lateness == b.allowed_lateness &&
         a.max_future_skew == b.max_future_skew && a.dedup_retention == b.dedup_retention &&
         a.max_body_bytes == b.max_body_bytes && a.max_connections == b.max_connections &&
         a.read_timeout == b.read_timeout && a.idle_timeout == b.idle_timeout &&
         a.max_events_per_request == b.max_events_per_request &&
         a.max_inflight_body_bytes == b.max_inflight_body_bytes && a.max_shops == b.max_shops &&
         a.admin_hosts == b.admin_hosts && a.admin_insecure == b.admin_insecure;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace

TEST_CASE("daemon_config: defaults are loopback listeners and the documented limits",
          "[daemon_config]") {
  const DaemonConfig config;
  CHECK(config.rules == "rules");
  CHECK(config.data == "replywatch-data");
  CHECK(config.ingest_listen.to_string() == "127.0.0.1:9870");
  CHECK(config.admin_listen.to_string() == "127.0.0.1:9871");
  CHECK_FALSE(config.ingest_secret_file.has_value());
  CHECK(config.allowed_lateness == std::chrono::seconds(2));
  CHECK(config.max_future_skew == std::chrono::minutes(5));
  CHECK(config.dedup_retention == std::chrono::hours(24));
  CHECK(config.max_body_bytes == 16 * 1024 * 1024);
  CHECK(validate_config(config).empty());
}

TEST_CASE("daemon_config: an IPv4 listen address", "[daemon_config]") {
  const auto address = parse_listen_address("127.0.0.1:9870");
  REQUIRE(address.has_value());
  CHECK(address->host == "127.0.0.1");
  CHECK(address->port == 9870);
  CHECK(address->to_string() == "127.0.0.1:9870");

  const auto any = parse_listen_address("0.0.0.0:65535");
  REQUIRE(any.has_value());
  CHECK(any->host == "0.0.0.0");
  CHECK(any->port == 65535);
}

TEST_CASE("daemon_config: an IPv6 listen address goes in brackets", "[daemon_config]") {
  const auto loopback = parse_listen_address("[::1]:9870");
  REQUIRE(loopback.has_value());
  CHECK(loopback->host == "::1");
  CHECK(loopback->port == 9870);
  CHECK(loopback->to_string() == "[::1]:9870");

  const auto full = parse_listen_address("[2001:db8::17]:443");
  REQUIRE(full.has_value());
  CHECK(full->host == "2001:db8::17");
  CHECK(full->port == 443);
  CHECK(full->to_string() == "[2001:db8::17]:443");

  // Without brackets the port cannot be told from the address.
  CHECK_FALSE(parse_listen_address("::1:9870").has_value());
  CHECK_FALSE(parse_listen_address("2001:db8::17:443").has_value());
  CHECK_FALSE(parse_listen_address("::1").has_value());
  // Brackets must be whole and hold an address.
  CHECK_FALSE(parse_listen_address("[::1:9870").has_value());
  CHECK_FALSE(parse_listen_address("[]:9870").has_value());
  CHECK_FALSE(parse_listen_address("[::1]").has_value());
  CHECK_FALSE(parse_listen_address("[nonsense]:9870").has_value());
}

TEST_CASE("daemon_config: port 0 asks for a free port", "[daemon_config]") {
  const auto v4 = parse_listen_address("127.0.0.1:0");
  REQUIRE(v4.has_value());
  CHECK(v4->port == 0);
  const auto v6 = parse_listen_address("[::1]:0");
  REQUIRE(v6.has_value());
  CHECK(v6->port == 0);
}

TEST_CASE("daemon_config: a bad or missing port is refused", "[daemon_config]") {
  for (const char* text : {"127.0.0.1:65536", "127.0.0.1:99999999999", "127.0.0.1:-1",
                           "127.0.0.1:+80", "127.0.0.1:http", "127.0.0.1:80a", "127.0.0.1: 80",
                           "127.0.0.1:", "127.0.0.1", "localhost", "[::1]:", ":9870", ""}) {
    INFO(text);
    CHECK_FALSE(parse_listen_address(text).has_value());
  }
}

TEST_CASE("daemon_config: localhost is the only host name taken", "[daemon_config]") {
  const auto localhost = parse_listen_address("localhost:9870");
  REQUIRE(localhost.has_value());
  CHECK(localhost->host == "localhost");
  CHECK(localhost->port == 9870);
  for (const char* text :
       {"example.com:9870", "myhost:9870", "local-host:9870", "127.0.0.256:80", "1.2.3:80"}) {
    INFO(text);
    CHECK_FALSE(parse_listen_address(text).has_value());
  }
}

TEST_CASE("daemon_config: rules and data take any non-empty path", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "rules", "/etc/replywatch/rules").has_value());
  CHECK(config.rules == "/etc/replywatch/rules");
  CHECK_FALSE(apply_setting(config, "data", "/var/lib/replywatch").has_value());
  CHECK(config.data == "/var/lib/replywatch");
  CHECK(apply_setting(config, "rules", "").has_value());
  CHECK(apply_setting(config, "data", "").has_value());
  CHECK(config.rules == "/etc/replywatch/rules");
  CHECK(config.data == "/var/lib/replywatch");
}

TEST_CASE("daemon_config: listen settings take HOST:PORT", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "ingest_listen", "0.0.0.0:8080").has_value());
  CHECK(config.ingest_listen.to_string() == "0.0.0.0:8080");
  CHECK_FALSE(apply_setting(config, "admin_listen", "[::1]:0").has_value());
  CHECK(config.admin_listen.to_string() == "[::1]:0");

  const auto bad_ingest = apply_setting(config, "ingest_listen", "example.com:80");
  REQUIRE(bad_ingest.has_value());
  CHECK_THAT(*bad_ingest, Catch::Contains("example.com:80"));
  CHECK(apply_setting(config, "admin_listen", "127.0.0.1").has_value());
  CHECK(config.ingest_listen.to_string() == "0.0.0.0:8080");
  CHECK(config.admin_listen.to_string() == "[::1]:0");
}

TEST_CASE("daemon_config: ingest_secret_file takes a non-empty path", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "ingest_secret_file", "/etc/replywatch/secret").has_value());
  CHECK(config.ingest_secret_file == std::optional<std::string>("/etc/replywatch/secret"));
  CHECK(apply_setting(config, "ingest_secret_file", "").has_value());
  CHECK(config.ingest_secret_file == std::optional<std::string>("/etc/replywatch/secret"));
}

TEST_CASE("daemon_config: lateness, future skew and dedup retention take durations, 0 included",
          "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "allowed_lateness", "500ms").has_value());
  CHECK(config.allowed_lateness == Duration(500));
  CHECK_FALSE(apply_setting(config, "allowed_lateness", "0s").has_value());
  CHECK(config.allowed_lateness == Duration(0));
  CHECK_FALSE(apply_setting(config, "max_future_skew", "10m").has_value());
  CHECK(config.max_future_skew == std::chrono::minutes(10));
  CHECK_FALSE(apply_setting(config, "dedup_retention", "7d").has_value());
  CHECK(config.dedup_retention == std::chrono::hours(7 * 24));
  CHECK_FALSE(apply_setting(config, "dedup_retention", "0ms").has_value());
  CHECK(config.dedup_retention == Duration(0));

  for (const char* key : {"allowed_lateness", "max_future_skew", "dedup_retention"}) {
    for (const char* value : {"2", "-1s", "1.5s", "2 s", "2sec", "", "s", "1w"}) {
      INFO(key << " = " << value);
      const auto problem = apply_setting(config, key, value);
      REQUIRE(problem.has_value());
      CHECK_THAT(*problem, Catch::Contains("duration"));
    }
  }
  CHECK(config.allowed_lateness == Duration(0));
  CHECK(config.max_future_skew == std::chrono::minutes(10));
  CHECK(config.dedup_retention == Duration(0));
}

TEST_CASE("daemon_config: read and idle timeouts take positive durations", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "read_timeout", "5s").has_value());
  CHECK(config.read_timeout == std::chrono::seconds(5));
  CHECK_FALSE(apply_setting(config, "idle_timeout", "2m").has_value());
  CHECK(config.idle_timeout == std::chrono::minutes(2));
  for (const char* key : {"read_timeout", "idle_timeout"}) {
    for (const char* value : {"0s", "0ms", "0", "abc", "-5s"}) {
      INFO(key << " = " << value);
      const auto problem = apply_setting(config, key, value);
      REQUIRE(problem.has_value());
      CHECK_THAT(*problem, Catch::Contains("positive duration"));
    }
  }
  CHECK(config.read_timeout == std::chrono::seconds(5));
  CHECK(config.idle_timeout == std::chrono::minutes(2));
}

TEST_CASE("daemon_config: max_body_bytes is a byte count from 1 to 1 GiB", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "max_body_bytes", "1").has_value());
  CHECK(config.max_body_bytes == 1);
  CHECK_FALSE(apply_setting(config, "max_body_bytes", "1073741824").has_value());
  CHECK(config.max_body_bytes == 1073741824);
  for (const char* value : {"0", "1073741825", "-1", "1k", "16MiB", "", " 1", "1.0"}) {
    INFO(value);
    CHECK(apply_setting(config, "max_body_bytes", value).has_value());
  }
  CHECK(config.max_body_bytes == 1073741824);
}

TEST_CASE("daemon_config: max_connections is a count from 1 to 1000000", "[daemon_config]") {
  DaemonConfig config;
  CHECK_FALSE(apply_setting(config, "max_connections", "1").has_value());
  CHECK(config.max_connections == 1);
  CHECK_FALSE(apply_setting(config, "max_connections", "1000000").has_value());
  CHECK(config.max_connections == 1000000);
  for (const char* value : {"0", "1000001", "-3", "many", "", "4294967297"}) {
    INFO(value);
    CHECK(apply_setting(config, "max_connections", value).has_value());
  }
  CHECK(config.max_connections == 1000000);
}

TEST_CASE("daemon_config: an unknown setting is refused by name", "[daemon_config]") {
  DaemonConfig config;
  for (const char* key : {"max_body", "Rules", "ingest-listen", "", "secret"}) {
    INFO(key);
    const auto problem = apply_setting(config, key, "1");
    REQUIRE(problem.has_value());
    CHECK(*problem == "unknown key \"" + std::string(key) + "\"");
  }
  CHECK(same_config(config, DaemonConfig{}));
}

TEST_CASE("daemon_config: a config file with every key sets every field", "[daemon_config]") {
  TempDir dir("every_key");
  const std::string path = dir.write("replywatch.yaml",
                                     "# replywatch run settings\n"
                                     "rules: /etc/replywatch/rules\n"
                                     "data: /var/lib/replywatch\n"
                                     "ingest_listen: 0.0.0.0:8080\n"
                                     "admin_listen: \"[::1]:0\"\n"
                                     "ingest_secret_file: /etc/replywatch/secret\n"
                                     "allowed_lateness: 500ms\n"
                                     "max_future_skew: 10m\n"
                                     "dedup_retention: 48h\n"
                                     "max_body_bytes: 1048576\n"
                                     "max_connections: 64\n"
                                     "read_timeout: 5s\n"
                                     "idle_timeout: 2m\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  REQUIRE(errors.empty());
  CHECK(config.rules == "/etc/replywatch/rules");
  CHECK(config.data == "/var/lib/replywatch");
  CHECK(config.ingest_listen.host == "0.0.0.0");
  CHECK(config.ingest_listen.port == 8080);
  CHECK(config.admin_listen.host == "::1");
  CHECK(config.admin_listen.port == 0);
  CHECK(config.ingest_secret_file == std::optional<std::string>("/etc/replywatch/secret"));
  CHECK(config.allowed_lateness == Duration(500));
  CHECK(config.max_future_skew == std::chrono::minutes(10));
  CHECK(config.dedup_retention == std::chrono::hours(48));
  CHECK(config.max_body_bytes == 1048576);
  CHECK(config.max_connections == 64);
  CHECK(config.read_timeout == std::chrono::seconds(5));
  CHECK(config.idle_timeout == std::chrono::minutes(2));
  CHECK(validate_config(config).empty());  // public ingest, but signed
}

TEST_CASE("daemon_config: keys absent from the file keep their value", "[daemon_config]") {
  TempDir dir("partial");
  const std::string path = dir.write("replywatch.yaml", "data: /srv/rw\n");
  DaemonConfig config;
  config.rules = "/from/an/earlier/layer";
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  REQUIRE(errors.empty());
  CHECK(config.data == "/srv/rw");
  CHECK(config.rules == "/from/an/earlier/layer");
  CHECK(config.max_body_bytes == DaemonConfig{}.max_body_bytes);
}

TEST_CASE("daemon_config: an unknown key is reported at the key's line and column",
          "[daemon_config]") {
  TempDir dir("unknown_key");
  // A block mapping indented by two: the key starts at column 3.
  const std::string path = dir.write("replywatch.yaml",
                                     "# settings\n"
                                     "  rules: /etc/replywatch/rules\n"
                                     "\n"
                                     "  max_body: 1024\n"
                                     "  data: /var/lib/replywatch\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == path + ":4:3: max_body: unknown key \"max_body\"");
  CHECK(same_config(config, DaemonConfig{}));  // nothing taken, the good keys neither
}

TEST_CASE("daemon_config: a bad value is reported at the value's position", "[daemon_config]") {
  TempDir dir("bad_value");
  const std::string path = dir.write("replywatch.yaml",
                                     "rules: /etc/replywatch/rules\n"
                                     "max_body_bytes:   0\n"
                                     "allowed_lateness: soon\n");
  DaemonConfig config;
  config.data = "/kept";
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  // Every problem, not only the first.
  REQUIRE(errors.size() == 2);
  CHECK_THAT(errors[0], Catch::StartsWith(path + ":2:19: max_body_bytes: "));
  CHECK_THAT(errors[0], Catch::Contains("byte count"));
  CHECK_THAT(errors[1], Catch::StartsWith(path + ":3:19: allowed_lateness: "));
  CHECK_THAT(errors[1], Catch::Contains("\"soon\""));
  // On any error the config is unchanged: rules was good but is not taken either.
  DaemonConfig expected;
  expected.data = "/kept";
  CHECK(same_config(config, expected));
}

TEST_CASE("daemon_config: a value that is not a single scalar is reported", "[daemon_config]") {
  TempDir dir("not_scalar");
  const std::string path = dir.write("replywatch.yaml",
                                     "rules: /r\n"
                                     "ingest_listen: [127.0.0.1, 9870]\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == path + ":2:16: \"ingest_listen\" must be a single value");
  CHECK(same_config(config, DaemonConfig{}));
}

TEST_CASE("daemon_config: an empty file keeps every default", "[daemon_config]") {
  TempDir dir("empty");
  for (const std::string& text :
       {std::string(""), std::string("# nothing set yet\n"), std::string("\n\n")}) {
    const std::string path = dir.write("replywatch.yaml", text);
    DaemonConfig config;
    CHECK(load_config_file(path, config).empty());
    CHECK(same_config(config, DaemonConfig{}));
  }
}

TEST_CASE("daemon_config: a file that is not a mapping or not YAML is an error with a position",
          "[daemon_config]") {
  TempDir dir("not_mapping");
  {
    const std::string path = dir.write("list.yaml", "- rules\n- data\n");
    DaemonConfig config;
    const auto errors = load_config_file(path, config);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == path + ":1:1: the config file must be a mapping");
    CHECK(same_config(config, DaemonConfig{}));
  }
  {
    const std::string path = dir.write("broken.yaml", "rules: /r\ndata: [unclosed\n");
    DaemonConfig config;
    const auto errors = load_config_file(path, config);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::Matches(".*/broken\\.yaml:[0-9]+:[0-9]+: .+"));
    CHECK(same_config(config, DaemonConfig{}));
  }
  {
    const std::string path =
        (fs::path(REPLYWATCH_TEST_DATA_DIR) / "daemon_config_test-no-such.yaml").string();
    DaemonConfig config;
    const auto errors = load_config_file(path, config);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith(path + ": "));
    CHECK(same_config(config, DaemonConfig{}));
  }
}

TEST_CASE("daemon_config: ingest off loopback needs a secret", "[daemon_config]") {
  DaemonConfig config;
  REQUIRE_FALSE(apply_setting(config, "ingest_listen", "0.0.0.0:9870").has_value());
  const auto problems = validate_config(config);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("0.0.0.0:9870"));
  CHECK_THAT(problems[0], Catch::Contains("ingest_secret_file"));

  for (const char* address : {"[::]:9870", "192.168.1.10:9870", "[2001:db8::17]:9870"}) {
    INFO(address);
    REQUIRE_FALSE(apply_setting(config, "ingest_listen", address).has_value());
    CHECK(validate_config(config).size() == 1);
  }

  REQUIRE_FALSE(apply_setting(config, "ingest_secret_file", "/etc/replywatch/secret").has_value());
  CHECK(validate_config(config).empty());
}

TEST_CASE("daemon_config: ingest on loopback needs no secret", "[daemon_config]") {
  for (const char* address : {"127.0.0.1:9870", "127.0.0.2:0", "[::1]:9870", "localhost:9870"}) {
    INFO(address);
    DaemonConfig config;
    REQUIRE_FALSE(apply_setting(config, "ingest_listen", address).has_value());
    CHECK(validate_config(config).empty());
  }
}

TEST_CASE("daemon_config: a stray comma or a second document is an error, not the defaults",
          "[daemon_config]") {
  // Before, ",\nrules: /r" read as an empty file (defaults: another data directory!) and
  // everything after "---" was ignored.
  TempDir dir("documents");
  {
    const std::string path = dir.write("comma.yaml", ",\nrules: /r\ndata: /d\n");
    DaemonConfig config;
    const auto errors = load_config_file(path, config);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == path + ":1:1: a config file holds one YAML mapping; this is not part of it");
    CHECK(same_config(config, DaemonConfig{}));
  }
  {
    const std::string path = dir.write("two.yaml", "rules: /r\n---\ndata: /d\n");
    DaemonConfig config;
    const auto errors = load_config_file(path, config);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith(path + ":2:"));
    CHECK(same_config(config, DaemonConfig{}));
  }
}

TEST_CASE("daemon_config: the hardening keys", "[daemon_config]") {
  TempDir dir("hardening");
  const std::string path = dir.write("replywatch.yaml",
                                     "max_events_per_request: 5000\n"
                                     "max_inflight_body_bytes: 67108864\n"
                                     "max_shops: 0\n"
                                     "admin_hosts: [replywatch.internal, 10.0.0.5]\n"
                                     "admin_insecure: true\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  REQUIRE(errors.empty());
  CHECK(config.max_events_per_request == 5000);
  CHECK(config.max_inflight_body_bytes == 67108864);
  CHECK(config.max_shops == 0);
  CHECK(config.admin_hosts == std::vector<std::string>{"replywatch.internal", "10.0.0.5"});
  CHECK(config.admin_insecure);
  const DaemonConfig defaults;
  CHECK(defaults.max_events_per_request == 100000);
  CHECK(defaults.max_inflight_body_bytes == 268435456);
  CHECK(defaults.max_shops == 1000);
  CHECK_FALSE(defaults.admin_insecure);
  CHECK(apply_setting(config, "admin_hosts", "a.example, b.example").value_or("") == "");
  CHECK(config.admin_hosts == std::vector<std::string>{"a.example", "b.example"});
  CHECK(apply_setting(config, "admin_hosts", "http://x").has_value());
  CHECK(apply_setting(config, "admin_insecure", "yes").has_value());
  CHECK(apply_setting(config, "max_events_per_request", "0").has_value());
  // The budget must hold one full-size body.
  DaemonConfig small;
  REQUIRE_FALSE(apply_setting(small, "max_inflight_body_bytes", "1024").has_value());
  CHECK(validate_config(small).size() == 1);
}

TEST_CASE("daemon_config: admin off loopback needs admin_insecure", "[daemon_config]") {
  DaemonConfig config;
  REQUIRE_FALSE(apply_setting(config, "admin_listen", "0.0.0.0:9871").has_value());
  const auto problems = validate_config(config);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("admin_insecure"));
  REQUIRE_FALSE(apply_setting(config, "admin_insecure", "true").has_value());
  CHECK(validate_config(config).empty());
}

TEST_CASE(
    "daemon_config: alertmanager is off by default and takes urls, external_url and "
    "resend_interval",
    "[daemon_config]") {
  CHECK(DaemonConfig{}.alertmanager.urls.empty());
  TempDir dir("alertmanager");
  const std::string path = dir.write(
      "replywatch.yaml",
      "alertmanager:\n"
      "  urls: [http://10.0.0.1:9093, \"http://am.example/prefix/\", \"http://[::1]:9093\"]\n"
      "  external_url: https://replywatch.example/\n"
      "  resend_interval: 30s\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  REQUIRE(errors.empty());
  CHECK(config.alertmanager.urls == std::vector<std::string>{"http://10.0.0.1:9093",
                                                             "http://am.example/prefix/",
                                                             "http://[::1]:9093"});
  CHECK(config.alertmanager.external_url == "https://replywatch.example");
  CHECK(config.alertmanager.resend_interval == std::chrono::seconds(30));
}

TEST_CASE("daemon_config: bad alertmanager settings are reported at their position",
          "[daemon_config]") {
  TempDir dir("alertmanager_bad");
  const std::string path = dir.write("replywatch.yaml",
                                     "alertmanager:\n"
                                     "  urls: [https://am:9093, \"http://am:99999\", am:9093]\n"
                                     "  resend_interval: 0s\n"
                                     "  timeout: 5s\n");
  DaemonConfig config;
  const auto errors = load_config_file(path, config);
  INFO(joined(errors));
  REQUIRE(errors.size() == 5);
  CHECK_THAT(errors[0], Catch::StartsWith(path + ":2:10: alertmanager.urls: \"https://am:9093\""));
  CHECK_THAT(errors[0], Catch::Contains("https is not supported"));
  CHECK_THAT(errors[1], Catch::StartsWith(path + ":2:27: alertmanager.urls: "));
  CHECK_THAT(errors[2], Catch::StartsWith(path + ":2:46: alertmanager.urls: "));
  CHECK_THAT(errors[3], Catch::StartsWith(path + ":3:20: alertmanager.resend_interval: "));
  CHECK_THAT(errors[4], Catch::StartsWith(path + ":4:3: alertmanager: unknown key \"timeout\""));
  CHECK(config.alertmanager.urls.empty());

  const std::string scalar = dir.write("scalar.yaml", "alertmanager: http://am:9093\n");
  const auto scalar_errors = load_config_file(scalar, config);
  REQUIRE(scalar_errors.size() == 1);
  CHECK_THAT(scalar_errors[0], Catch::StartsWith(scalar + ":1:15: alertmanager must be a mapping"));
}

TEST_CASE("daemon_config: the key table names exactly what apply_setting and the file take",
          "[daemon_config]") {
  // docs/operations.md is checked against config_file_keys(); a key the code takes but the table
  // lacks would go undocumented, and the file reader would refuse it.
  for (const std::string_view key : replywatch::server::config_file_keys()) {
    // Read by the file reader alone: mappings and lists.
    if (key == "alertmanager" || key == "adapters" || key == "ingest" || key == "consume") continue;
    DaemonConfig config;
    const auto problem = apply_setting(config, key, "x");
    INFO(key);
    CHECK_FALSE((problem && problem->starts_with("unknown key")));
  }
  TempDir dir("key_table");
  const std::string path = dir.write("alertmanager.yaml",
                                     "alertmanager:\n  urls: [http://127.0.0.1:9093]\n"
                                     "  external_url: http://rw.example\n  resend_interval: 2m\n");
  DaemonConfig config;
  CHECK(load_config_file(path, config).empty());
  CHECK(replywatch::server::alertmanager_config_keys().size() == 3);
}

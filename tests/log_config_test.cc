// The `log` mapping of the daemon's config file (daemon/jetstream/log_config.h), read through
// the config file reader as an operator writes it: defaults, every key, every error with its
// FILE:LINE:COL.
#include "log_config.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "daemon_config.h"
#include "temp_dir.h"

using replywatch::jetstream::LogConfig;
using replywatch::jetstream::LogKind;
using replywatch::server::DaemonConfig;
using replywatch::server::load_config_file;

namespace {

struct Loaded {
  std::string path;
  std::vector<std::string> errors;
  DaemonConfig config;
};

Loaded load(const std::string& text) {
  static rwtest::TempDir dir("log_config");
  static int counter = 0;
  Loaded loaded;
  loaded.path = dir.write("config-" + std::to_string(++counter) + ".yaml", text);
  loaded.errors = load_config_file(loaded.path, loaded.config);
  return loaded;
}

// The one error of `text`, which must be at LINE:COL and start with `message`.
void check_error(const std::string& text, const std::string& position, const std::string& message) {
  const Loaded loaded = load(text);
  INFO(text);
  REQUIRE(loaded.errors.size() == 1);
  CHECK_THAT(loaded.errors[0], Catch::StartsWith(loaded.path + ":" + position + ": " + message));
  // Nothing of a file with an error is taken.
  CHECK(loaded.config.log.kind == LogKind::kLocal);
}

}  // namespace

TEST_CASE("log_config: the defaults are the local log and the contract's stream names",
          "[log_config]") {
  const LogConfig config;
  CHECK(config.kind == LogKind::kLocal);
  CHECK(config.servers.empty());
  CHECK(config.stream == "REPLYWATCH");
  CHECK(config.subject_prefix == "replywatch.events");
  CHECK(config.partitions == 16);
  CHECK(config.replicas == 1);
  CHECK(config.publish_timeout == std::chrono::seconds(5));
  CHECK(config.reconnect_max_wait == std::chrono::seconds(2));
  CHECK(config.subject_of(7) == "replywatch.events.7");
  const Loaded empty = load("rules: r\n");
  CHECK(empty.errors.empty());
  CHECK(empty.config.log.kind == LogKind::kLocal);
}

TEST_CASE("log_config: every key is read", "[log_config]") {
  const Loaded loaded = load(
      "log:\n"
      "  kind: jetstream\n"
      "  servers: [nats://10.0.0.1:4222, nats://nats-2.example:4222, tls://10.0.0.3:4222]\n"
      "  stream: RW_EVENTS\n"
      "  subject_prefix: acme.replywatch\n"
      "  partitions: 64\n"
      "  replicas: 3\n"
      "  publish_timeout: 1500ms\n"
      "  reconnect_max_wait: 10s\n");
  REQUIRE(loaded.errors.empty());
  const LogConfig& log = loaded.config.log;
  CHECK(log.jetstream());
  CHECK(log.servers == std::vector<std::string>{"nats://10.0.0.1:4222",
                                                "nats://nats-2.example:4222",
                                                "tls://10.0.0.3:4222"});
  CHECK(log.stream == "RW_EVENTS");
  CHECK(log.subject_prefix == "acme.replywatch");
  CHECK(log.subject_of(63) == "acme.replywatch.63");
  CHECK(log.partitions == 64);
  CHECK(log.replicas == 3);
  CHECK(log.publish_timeout == std::chrono::milliseconds(1500));
  CHECK(log.reconnect_max_wait == std::chrono::seconds(10));
  CHECK(replywatch::jetstream::log_config_keys().size() == 8);
}

TEST_CASE("log_config: kind local needs no servers; keys absent keep their defaults",
          "[log_config]") {
  const Loaded loaded = load("log:\n  kind: local\n  partitions: 8\n");
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config.log.kind == LogKind::kLocal);
  CHECK(loaded.config.log.partitions == 8);
  CHECK(loaded.config.log.stream == "REPLYWATCH");
}

TEST_CASE("log_config: every mistake is reported at its position", "[log_config]") {
  check_error("log: jetstream\n", "1:6", "log must be a mapping");
  check_error("log:\n  kind: kafka\n  servers: [nats://a:1]\n", "2:9",
              "log.kind: \"kafka\" is not local or jetstream");
  check_error("log:\n  kind: jetstream\n", "2:9", "log.kind jetstream needs log.servers");
  check_error("log:\n  kind: jetstream\n  servers: []\n", "3:12",
              "log.servers must be a non-empty list");
  check_error("log:\n  kind: jetstream\n  servers: nats://a:4222\n", "3:12",
              "log.servers must be a non-empty list");
  check_error("log:\n  kind: jetstream\n  servers: [nats://a:4222, http://b:4222]\n", "3:28",
              "log.servers: \"http://b:4222\" is not nats://HOST:PORT");
  check_error("log:\n  servers: [nats://a]\n", "2:13",
              "log.servers: \"nats://a\" is not nats://HOST:PORT");
  check_error("log:\n  servers: [nats://a:99999]\n", "2:13", "log.servers: \"nats://a:99999\"");
  check_error("log:\n  stream: my.stream\n", "2:11",
              "log.stream: \"my.stream\" is not a stream name");
  check_error("log:\n  stream: \"a b\"\n", "2:11", "log.stream: \"a b\" is not a stream name");
  check_error("log:\n  subject_prefix: events.*\n", "2:19",
              "log.subject_prefix: \"events.*\" is not a subject");
  check_error("log:\n  subject_prefix: events..x\n", "2:19",
              "log.subject_prefix: \"events..x\" is not a subject");
  check_error("log:\n  subject_prefix: .events\n", "2:19",
              "log.subject_prefix: \".events\" is not a subject");
  check_error("log:\n  partitions: 0\n", "2:15", "log.partitions: \"0\" is not a count from 1");
  check_error("log:\n  partitions: 5000\n", "2:15", "log.partitions: \"5000\" is not a count");
  check_error("log:\n  partitions: sixteen\n", "2:15", "log.partitions: \"sixteen\"");
  check_error("log:\n  replicas: 7\n", "2:13", "log.replicas: \"7\" is not a count from 1 to 5");
  check_error("log:\n  publish_timeout: 0s\n", "2:20",
              "log.publish_timeout: \"0s\" is not a positive duration");
  check_error("log:\n  reconnect_max_wait: soon\n", "2:23",
              "log.reconnect_max_wait: \"soon\" is not a positive duration");
  check_error("log:\n  partitons: 16\n", "2:3", "log: unknown key \"partitons\"");
  check_error("log:\n  replicas: [3]\n", "2:13", "log.replicas must be a single value");
  check_error("log:\n  stream:\n", "2:3", "log.stream must be a single value");
}

TEST_CASE("log_config: all mistakes of the mapping are reported at once", "[log_config]") {
  const Loaded loaded = load("log:\n  kind: jetstream\n  partitions: 0\n  replicas: 9\n");
  REQUIRE(loaded.errors.size() == 2);
  CHECK_THAT(loaded.errors[0], Catch::Contains(":3:15: log.partitions"));
  CHECK_THAT(loaded.errors[1], Catch::Contains(":4:13: log.replicas"));
}

TEST_CASE("log_config: names JetStream refuses are refused here", "[log_config]") {
  using replywatch::jetstream::valid_stream_name;
  using replywatch::jetstream::valid_subject_prefix;
  CHECK(valid_stream_name("REPLYWATCH"));
  CHECK(valid_stream_name("rw-events_2"));
  CHECK_FALSE(valid_stream_name(""));
  CHECK_FALSE(valid_stream_name("a>b"));
  CHECK_FALSE(valid_stream_name("a/b"));
  CHECK_FALSE(valid_stream_name(std::string(256, 'a')));
  CHECK(valid_subject_prefix("replywatch.events"));
  CHECK(valid_subject_prefix("x"));
  CHECK_FALSE(valid_subject_prefix("a.>"));
  CHECK_FALSE(valid_subject_prefix("a b"));
  CHECK_FALSE(valid_subject_prefix("a."));
}

// Integration tests of the consuming side of `log.kind: jetstream`: the real daemon and a real
// `nats-server -js` on free loopback ports. A daemon that ingests and consumes applies what it
// published from the stream; a restart resumes from its snapshot's stream position without
// counting anything twice; a consume-only daemon started later catches up with the backlog of
// its partitions and holds none of the others' shops; /-/ready tells the partitions apart.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "nats_server_process.h"
#include "partitioning.h"

namespace {

using rwtest::DaemonProcess;
using rwtest::eventually;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::TempDir;

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_1h
    kind: reply_time
    rounds: every
    deadline: 1h
    window: 24h
    resolution: 1m
)";
constexpr std::uint32_t kPartitions = 4;

const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};

std::string event_line(const std::string& id, const std::string& shop,
                       const std::string& conversation, const std::string& type, std::int64_t ts) {
  return R"({"id":")" + id + R"(","platform":"testchat","shop":")" + shop + R"(","type":")" + type +
         R"(","conversation":")" + conversation + R"(","ts":)" + std::to_string(ts) + "}\n";
}

// Two rounds of `shop` an hour and more ago: one breached (never answered), one answered in
// time; both decided as soon as they are applied.
std::string two_rounds(const std::string& shop) {
  const std::int64_t now = now_ms();
  return event_line(shop + "-1", shop, "c1", "buyer_message", now - 90 * 60'000) +
         event_line(shop + "-2", shop, "c2", "buyer_message", now - 80 * 60'000) +
         event_line(shop + "-3", shop, "c2", "agent_message", now - 79 * 60'000);
}

std::vector<std::string> daemon_args(const TempDir& dir, const rwtest::NatsServerProcess& server,
                                     const std::string& name, const std::string& roles) {
  dir.write("rules/testchat.yaml", kRules);
  const std::string config =
      dir.write(name + ".yaml", "log:\n  kind: jetstream\n  servers: [" + server.url() +
                                    "]\n  partitions: 4\n  reconnect_max_wait: 200ms\n"
                                    "snapshot_interval: 1s\nsnapshot_every_events: 1\n" +
                                    roles);
  return {"--config", config, "--rules", dir.file("rules"), "--data", dir.file(name)};
}

double series(const std::map<std::string, double>& metrics, const std::string& name,
              const std::string& shop) {
  const auto found =
      metrics.find(name + R"({platform="testchat",shop=")" + shop + R"(",sla="reply_1h"})");
  return found == metrics.end() ? 0 : found->second;
}

bool has_figures(unsigned short admin_port, const std::string& shop) {
  const auto metrics = rwtest::scrape(admin_port);
  return series(metrics, "replywatch_sla_rounds_total", shop) == 2 &&
         series(metrics, "replywatch_sla_breaches_total", shop) == 1;
}

// Two shops on different partitions.
std::pair<std::string, std::string> shops_on_two_partitions() {
  const std::string first = "s0";
  const std::uint32_t partition =
      replywatch::jetstream::partition_of("testchat", first, kPartitions);
  for (int i = 1;; ++i) {
    const std::string other = "s" + std::to_string(i);
    if (replywatch::jetstream::partition_of("testchat", other, kPartitions) != partition) {
      return {first, other};
    }
  }
}

}  // namespace

TEST_CASE(
    "daemon_consume: a daemon applies what it published from the stream; a restart resumes "
    "from its snapshot's stream position",
    "[daemon_consume][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_consume");
  const auto args = daemon_args(dir, server, "a", "");
  {
    DaemonProcess daemon(args);
    const auto reply =
        http_call(daemon.ingest_port(), "POST", "/v1/events", two_rounds("s1"), kNdjson);
    REQUIRE(reply.status == 200);
    CHECK(eventually([&] { return has_figures(daemon.admin_port(), "s1"); }));
    const auto ready = http_call(daemon.admin_port(), "GET", "/-/ready");
    CHECK(ready.status == 200);
    CHECK_THAT(ready.body, Catch::Contains("partitions 0,1,2,3 caught up at stream sequence 4"));
    auto metrics = rwtest::scrape(daemon.admin_port());
    CHECK(metrics.at("replywatch_stream_events_applied_total") == 3);
    CHECK(metrics.at("replywatch_stream_position") == 4);
    CHECK(metrics.at(R"(replywatch_stream_partition_caught_up{partition="2"})") == 1);
    CHECK(metrics.at(R"(replywatch_stream_consumer_lag_messages{partition="2"})") == 0);
    daemon.wait_for_log(R"(snapshot of the log up to record (4) written)");
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(std::chrono::seconds(10)) == 0);
  }
  DaemonProcess again(args);
  CHECK_THAT(again.log(), Catch::Contains("from sequence 4 (the snapshot"));
  CHECK(has_figures(again.admin_port(), "s1"));
  // Nothing read twice: the snapshot covered the whole stream.
  CHECK(rwtest::scrape(again.admin_port()).at("replywatch_stream_events_applied_total") == 0);
  // A retry after the restart is a duplicate (the stream's window and the engine agree).
  const auto retry =
      http_call(again.ingest_port(), "POST", "/v1/events", two_rounds("s1"), kNdjson);
  CHECK(retry.body == "{\"accepted\":0,\"duplicates\":3,\"rejected\":[]}\n");
  CHECK(has_figures(again.admin_port(), "s1"));
}

TEST_CASE(
    "daemon_consume: a consume-only daemon catches up with its partitions' backlog and holds "
    "no other shop",
    "[daemon_consume][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_consume_half");
  const auto [mine, other] = shops_on_two_partitions();
  const std::uint32_t partition =
      replywatch::jetstream::partition_of("testchat", mine, kPartitions);
  DaemonProcess ingest(daemon_args(dir, server, "ingest", "consume: none\n"));
  for (const std::string& shop : {mine, other}) {
    REQUIRE(
        http_call(ingest.ingest_port(), "POST", "/v1/events", two_rounds(shop), kNdjson).status ==
        200);
  }
  CHECK(rwtest::scrape(ingest.admin_port()).count("replywatch_stream_position") == 0);

  DaemonProcess engine(daemon_args(dir, server, "engine",
                                   "ingest: false\nconsume: [" + std::to_string(partition) + "]\n"),
                       true, 0, false);
  CHECK(engine.ingest_port() == 0);
  CHECK_THAT(engine.log(), Catch::Contains("6 message(s) to catch up with"));
  CHECK(eventually([&] { return has_figures(engine.admin_port(), mine); }));
  CHECK(
      eventually([&] { return http_call(engine.admin_port(), "GET", "/-/ready").status == 200; }));
  const auto metrics = rwtest::scrape(engine.admin_port());
  CHECK(series(metrics, "replywatch_sla_rounds_total", other) == 0);
  CHECK(metrics.at("replywatch_stream_events_applied_total") == 3);
  CHECK(metrics.count(R"(replywatch_stream_partition_caught_up{partition=")" +
                      std::to_string(partition) + "\"}") == 1);
}

TEST_CASE("daemon_consume: ingest and consume need log.kind jetstream",
          "[daemon_consume][integration]") {
  TempDir dir("daemon_consume_local");
  dir.write("rules/testchat.yaml", kRules);
  const std::string config = dir.write("config.yaml", "ingest: false\n");
  DaemonProcess daemon(
      {"--config", config, "--rules", dir.file("rules"), "--data", dir.file("data")}, false);
  CHECK(daemon.wait_exit(std::chrono::seconds(20)) == 1);
  CHECK_THAT(daemon.log(), Catch::Contains("ingest and consume are roles on a shared stream"));
}

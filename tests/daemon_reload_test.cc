// Reload carrying state and log retention, through the real binary: an unchanged SLA keeps its
// counters across a reload that changes another, also after retention has deleted the log's
// early segments; the changed SLA is derived again from what the log still holds; retention
// shrinks the log (its size metrics fall); a restart afterwards shows the same figures.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "temp_dir.h"

using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::scrape;
using rwtest::TempDir;

namespace {

// Windows of 2 s and a dedup retention of 5 s: retention may cut what is 7 s old.
std::string rules(const std::string& changed_deadline) {
  return "platform: testchat\ntimezone: UTC\nslas:\n"
         "  - name: kept\n    kind: reply_time\n    deadline: 2s\n    window: 2s\n"
         "    resolution: 1s\n"
         "  - name: changed\n    kind: reply_time\n    deadline: " +
         changed_deadline + "\n    window: 2s\n    resolution: 1s\n";
}

const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};

std::string event(const std::string& id, const std::string& type, const std::string& conversation,
                  std::int64_t ts) {
  return R"({"id":")" + id + R"(","platform":"testchat","shop":"s1","type":")" + type +
         R"(","conversation":")" + conversation + R"(","ts":)" + std::to_string(ts) + "}\n";
}

// `count` rounds, all in the past: a buyer message and, for even ones, an answer `reply_after`
// later; the rest go unanswered past both deadlines (no lateness: every round is decided on
// arrival).
std::string rounds(const std::string& prefix, int count, std::int64_t reply_after) {
  std::string body;
  const std::int64_t start = now_ms() - 4'000;
  for (int i = 0; i < count; ++i) {
    const std::string conversation = prefix + std::to_string(i);
    body += event(conversation + "b", "buyer_message", conversation, start);
    if (i % 2 == 0) {
      body += event(conversation + "a", "agent_message", conversation, start + reply_after);
    }
  }
  return body;
}

std::string series(const std::string& family, const std::string& sla) {
  return family + R"({platform="testchat",shop="s1",sla=")" + sla + R"("})";
}

const std::string kReceived =
    R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})";

std::vector<std::string> args(const TempDir& dir) {
  return {"--rules",        dir.file("rules"), "--data",
          dir.file("data"), "--config",        dir.file("config.yaml")};
}

// Scrapes until `done` holds, for at most `timeout`.
template <typename Done>
std::map<std::string, double> scrape_until(const DaemonProcess& daemon, Done done,
                                           std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto metrics = scrape(daemon);
    if (done(metrics) || std::chrono::steady_clock::now() >= deadline) return metrics;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

TEST_CASE(
    "daemon_reload: an unchanged SLA keeps its counters across a reload after retention, the "
    "changed one is derived again, and a restart keeps both",
    "[daemon][reload]") {
  TempDir dir("daemon_reload");
  dir.write("rules/testchat.yaml", rules("2s"));
  dir.write("config.yaml",
            "log_segment_bytes: 4096\nsnapshot_every_events: 50\nsnapshots_kept: 1\n"
            "dedup_retention: 5s\nallowed_lateness: 0s\n");
  std::map<std::string, double> after_reload;
  {
    DaemonProcess daemon(args(dir));
    // 200 rounds in batches, so the log spans several small segments and snapshots.
    for (int batch = 0; batch < 10; ++batch) {
      REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events",
                        rounds("early" + std::to_string(batch) + "_", 20, 1'000), kNdjson)
                  .status == 200);
    }
    const auto full = scrape(daemon);
    REQUIRE(full.at(series("replywatch_sla_rounds_total", "kept")) == 200);
    REQUIRE(full.at(series("replywatch_sla_breaches_total", "kept")) == 100);
    REQUIRE(full.at("replywatch_log_segments") >= 3);

    // Retention runs once the records are older than the horizon and a snapshot covers them.
    const auto trimmed = scrape_until(
        daemon,
        [&](const auto& m) {
          return m.at("replywatch_log_segments") <= 2 &&
                 m.at("replywatch_log_size_bytes") < full.at("replywatch_log_size_bytes");
        },
        std::chrono::seconds(20));
    CHECK(trimmed.at("replywatch_log_segments") <= 2);
    CHECK(trimmed.at("replywatch_log_size_bytes") < full.at("replywatch_log_size_bytes"));

    // Rounds the edited deadline of 500 ms judges otherwise: answered after 1 s.
    REQUIRE(
        http_call(daemon.ingest_port(), "POST", "/v1/events", rounds("late", 10, 1'000), kNdjson)
            .status == 200);
    const auto before = scrape(daemon);
    CHECK(before.at(series("replywatch_sla_rounds_total", "kept")) == 210);
    CHECK(before.at(series("replywatch_sla_breaches_total", "changed")) == 105);

    dir.write("rules/testchat.yaml", rules("500ms"));
    daemon.signal(SIGHUP);
    daemon.wait_for_log(R"(reloaded 1 rule file\(s\) \(SIGHUP\); (1) SLA\(s\) unchanged)");
    after_reload = scrape(daemon);
    for (const std::string family : {"replywatch_sla_rounds_total", "replywatch_sla_breaches_total",
                                     "replywatch_rounds_open", "replywatch_sla_window_rounds"}) {
      INFO(family);
      CHECK(after_reload.at(series(family, "kept")) == before.at(series(family, "kept")));
    }
    CHECK(after_reload.at(kReceived) == before.at(kReceived));
    // Derived again from the records retention kept: the 10 late rounds are all breaches now
    // (5 unanswered, 5 answered after 1 s > 500 ms), and the deleted early rounds are not there.
    const double changed_rounds = after_reload.at(series("replywatch_sla_rounds_total", "changed"));
    const double changed_breaches =
        after_reload.at(series("replywatch_sla_breaches_total", "changed"));
    CHECK(changed_rounds >= 10);
    CHECK(changed_rounds < 210);
    CHECK(changed_breaches == changed_rounds);
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait_exit(std::chrono::seconds(10)) == 0);
  }
  DaemonProcess restarted(args(dir));
  const auto after_restart = scrape(restarted);
  for (const std::string sla : {"kept", "changed"}) {
    for (const std::string family :
         {"replywatch_sla_rounds_total", "replywatch_sla_breaches_total"}) {
      INFO(family << " " << sla);
      CHECK(after_restart.at(series(family, sla)) == after_reload.at(series(family, sla)));
    }
  }
  CHECK(after_restart.at(kReceived) == after_reload.at(kReceived));
}

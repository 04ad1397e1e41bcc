// The daemon's snapshots, through the real binary: taken by count in the background, used on
// restart (the figures continue where they were, the snapshot's records are not read again),
// and a damaged newest snapshot is passed over for the previous one, counted.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "daemon_process.h"
#include "temp_dir.h"

using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::scrape;
using rwtest::TempDir;

namespace {

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_1h
    kind: reply_time
    deadline: 1h
)";

const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};

// `count` buyer messages, each opening its own round, ids from `first`.
std::string buyers(int first, int count) {
  std::string body;
  const std::int64_t ts = now_ms() - 10'000;
  for (int i = first; i < first + count; ++i) {
    body += R"({"id":"e)" + std::to_string(i) +
            R"(","platform":"testchat","shop":"s1","type":"buyer_message","conversation":"c)" +
            std::to_string(i) + R"(","ts":)" + std::to_string(ts) + "}\n";
  }
  return body;
}

const std::string kOpen = R"(replywatch_rounds_open{platform="testchat",shop="s1",sla="reply_1h"})";
const std::string kReceived =
    R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})";

std::vector<std::string> args(const TempDir& dir) {
  return {"--rules",        dir.file("rules"), "--data",
          dir.file("data"), "--config",        dir.file("config.yaml")};
}

std::size_t snapshot_files(const TempDir& dir) {
  std::size_t n = 0;
  if (!std::filesystem::exists(dir.file("data/snapshots"))) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("data/snapshots"))) {
    if (entry.path().extension() == ".rws") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("daemon_snapshot: a restart loads the newest snapshot and reads only the log after it",
          "[daemon][snapshot]") {
  TempDir dir("daemon_snapshot");
  dir.write("rules/testchat.yaml", kRules);
  dir.write("config.yaml", "snapshot_every_events: 10\nsnapshots_kept: 2\n");
  std::map<std::string, double> before;
  {
    DaemonProcess daemon(args(dir));
    for (int batch = 0; batch < 3; ++batch) {
      REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", buyers(batch * 10, 10), kNdjson)
                  .status == 200);
      daemon.wait_for_log("snapshot of the log up to record " + std::to_string(batch * 10 + 11));
    }
    REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", buyers(30, 5), kNdjson).status ==
            200);
    before = scrape(daemon);
    CHECK(before.at("replywatch_snapshots_written_total") == 3);
    CHECK(before.at("replywatch_snapshot_last_size_bytes") > 48);
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  }
  CHECK(snapshot_files(dir) == 2);
  SECTION("the newest snapshot and 5 records") {
    DaemonProcess daemon(args(dir));
    daemon.wait_for_log(
        R"(restored 5 journal record\(s\) after the snapshot \S*snapshot-00000000000000000031\.rws)");
    const auto after = scrape(daemon);
    CHECK(after.at(kOpen) == 35);
    CHECK(after.at(kReceived) == before.at(kReceived));
    CHECK(after.at("replywatch_restore_log_records") == 5);
    CHECK(after.at("replywatch_snapshot_load_failures_total") == 0);
  }
  SECTION("a damaged newest snapshot: the previous one and 15 records") {
    const std::string newest = dir.file("data/snapshots/snapshot-00000000000000000031.rws");
    std::filesystem::resize_file(newest, std::filesystem::file_size(newest) - 1);
    DaemonProcess daemon(args(dir));
    daemon.wait_for_log(
        R"(restored 15 journal record\(s\) after the snapshot \S*snapshot-00000000000000000021\.rws)");
    CHECK(daemon.log().find("snapshot-00000000000000000031.rws not used") != std::string::npos);
    const auto after = scrape(daemon);
    CHECK(after.at(kOpen) == 35);
    CHECK(after.at(kReceived) == before.at(kReceived));
    CHECK(after.at("replywatch_restore_log_records") == 15);
    CHECK(after.at("replywatch_snapshot_load_failures_total") == 1);
  }
}

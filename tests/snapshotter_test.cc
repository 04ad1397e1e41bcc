// Snapshotter: snapshots by count and by time, one at a time, failures counted and the previous
// snapshots kept, old ones pruned; metrics follow. Time is a fake: nothing sleeps (the forked
// child is waited for).
#include "snapshotter.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "engine_test_support.h"
#include "temp_dir.h"

using namespace rwtest;
using replywatch::rule_set_identity;
using replywatch::server::DaemonMetrics;
using replywatch::server::EngineHost;
using replywatch::server::Logger;
using replywatch::server::SnapshotSchedule;
using replywatch::server::SnapshotStore;
using replywatch::server::Snapshotter;
using replywatch::server::SteadyInstant;
using replywatch::server::TimeSource;

namespace {

class FakeTime final : public TimeSource {
 public:
  Instant now() const override { return wall; }
  SteadyInstant steady_now() const override { return steady; }
  void pass(Duration d) {
    wall += d;
    steady += d;
  }
  Instant wall = Instant(Duration(1795359600000));
  SteadyInstant steady = SteadyInstant(Duration(5'000));
};

constexpr const char* kRules = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
)";

std::size_t files_in(const std::string& directory) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory)) ++n;
  return n;
}

}  // namespace

TEST_CASE("snapshotter: by count, by time, one at a time, the newest kept", "[snapshotter]") {
  TempDir dir("snapshotter");
  FakeTime time;
  const Logger log(time);
  DaemonMetrics metrics(1000);
  const auto rules = rules_from_yaml(kRules);
  const auto identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  EngineHost host(rules, {});
  host.offer(buyer("b1", "s1", "c1", T("2026-11-22T15:00:00Z")));

  SnapshotSchedule schedule;
  schedule.every_events = 100;
  schedule.interval = std::chrono::minutes(10);
  schedule.kept = 2;
  Snapshotter snapshots(SnapshotStore(dir.str()), schedule, time, log, &metrics);
  snapshots.restored(1, 0);

  CHECK_FALSE(snapshots.due(50));
  CHECK(snapshots.due(101));
  REQUIRE(snapshots.maybe_start(host, identity, {}, 101));
  CHECK(snapshots.running());
  CHECK_FALSE(snapshots.maybe_start(host, identity, {}, 500));  // one at a time
  snapshots.wait();
  CHECK_FALSE(snapshots.running());
  CHECK(snapshots.newest_sequence() == 101);
  CHECK(metrics.snapshots_written.Value() == 1);
  CHECK(metrics.snapshot_last_bytes.Value() > 48);
  CHECK(metrics.snapshot_last_success.Value() ==
        replywatch::to_seconds(time.wall.time_since_epoch()));

  // By time: nothing new, nothing due; one new event and the interval passed, due.
  time.pass(std::chrono::minutes(11));
  CHECK_FALSE(snapshots.due(101));
  CHECK(snapshots.due(102));
  time.pass(std::chrono::seconds(1));
  REQUIRE(snapshots.maybe_start(host, identity, {}, 102));
  snapshots.wait();
  REQUIRE(snapshots.start(host, identity, {}, 150));  // asked for, not due
  snapshots.wait();
  CHECK(snapshots.newest_sequence() == 150);
  CHECK(files_in(dir.str()) == 2);  // 102 and 150 kept, 101 pruned
  CHECK(std::filesystem::exists(dir.file("snapshot-00000000000000000150.rws")));
  CHECK(std::filesystem::exists(dir.file("snapshot-00000000000000000102.rws")));
  CHECK(metrics.snapshots_written.Value() == 3);
}

TEST_CASE("snapshotter: a failed write is counted and leaves the previous snapshots",
          "[snapshotter]") {
  TempDir dir("snapshotter");
  FakeTime time;
  const Logger log(time);
  DaemonMetrics metrics(1000);
  const auto rules = rules_from_yaml(kRules);
  const auto identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  EngineHost host(rules, {});
  Snapshotter snapshots(SnapshotStore(dir.file("missing")), SnapshotSchedule{}, time, log,
                        &metrics);
  snapshots.restored(10, 0);
  REQUIRE(snapshots.start(host, identity, {}, 20));
  snapshots.wait();
  CHECK(metrics.snapshot_write_failures.Value() == 1);
  CHECK(metrics.snapshots_written.Value() == 0);
  CHECK(snapshots.newest_sequence() == 0);
  // not retried at once: the next one waits for the schedule
  CHECK_FALSE(snapshots.due(21));
}

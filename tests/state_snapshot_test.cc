// A daemon snapshot (identity, host, unlogged counts) through a real file: restored, the host
// continues exactly as the original, histograms, event counts and alerts included; a snapshot of
// other rules or settings is left alone. Also the forked writer.
#include "state_snapshot.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"
#include "forked_snapshot.h"
#include "snapshot_store.h"
#include "temp_dir.h"

using namespace rwtest;
using replywatch::rule_set_identity;
using replywatch::RuleSet;
using replywatch::RuleSetIdentity;
using replywatch::SnapshotError;
using replywatch::SnapshotReader;
using replywatch::SnapshotWriter;
using replywatch::server::EngineHost;
using replywatch::server::ForkedSnapshot;
using replywatch::server::load_state;
using replywatch::server::NotifierSettings;
using replywatch::server::PlatformEventCounts;
using replywatch::server::save_state;
using replywatch::server::SnapshotStore;
using replywatch::server::StateLoad;
using replywatch::server::UnloggedCounts;

namespace {

// The random stream's rules with one SLA that pages.
std::string paging_yaml() {
  std::string yaml = kYaml;
  const std::string anchor = "    deadline: 30s\n";
  yaml.insert(yaml.find(anchor) + anchor.size(), "    notify: page\n");
  return yaml;
}

std::unique_ptr<EngineHost> new_host(std::shared_ptr<const RuleSet> rules) {
  NotifierSettings alerts;
  alerts.at_risk_base_url = "http://127.0.0.1:9871";
  return std::make_unique<EngineHost>(std::move(rules), replywatch::EngineOptions{}, 1000, alerts);
}

std::string save_bytes(const EngineHost& host, const RuleSetIdentity& identity,
                       const UnloggedCounts& unlogged) {
  std::string bytes;
  SnapshotWriter out([&](std::string_view piece) { bytes.append(piece); });
  save_state(out, host, identity, unlogged);
  out.flush();
  return bytes;
}

struct Feeder {
  std::optional<Instant> max_seen;
  void feed(EngineHost& host, const Event& event) {
    if (!max_seen || event.ts > *max_seen) max_seen = event.ts;
    host.offer(event);
    host.engine().advance(*max_seen - kLateness);
  }
};

std::vector<std::string> state_of(const EngineHost& host, Instant at) {
  std::vector<std::string> out;
  for (const auto& f : host.engine().figures(at)) {
    out.push_back(describe(f));
    if (const auto* histogram = host.histogram(f.ref)) {
      std::string line = "histogram";
      for (const auto count : histogram->bucket_counts) line += " " + std::to_string(count);
      line += " sum=" + std::to_string(histogram->sum) + " n=" + std::to_string(histogram->count);
      out.push_back(line);
    }
  }
  for (std::uint32_t p = 0; p < host.rules().platforms.size(); ++p) {
    const PlatformEventCounts& counts = host.platform_counts(p);
    std::string line = "counts";
    for (const auto n : counts.received) line += " " + std::to_string(n);
    out.push_back(line + " " + std::to_string(counts.duplicates) + " " +
                  std::to_string(counts.late));
  }
  return out;
}

std::vector<std::string> alerts_of(EngineHost& host, Instant now) {
  host.alerts()->go_live(nullptr, now);
  std::vector<std::string> alerts = host.alerts()->collect(now, false);
  std::sort(alerts.begin(), alerts.end());
  return alerts;
}

}  // namespace

TEST_CASE("state_snapshot: a host restored from a snapshot file continues as the original",
          "[state_snapshot]") {
  const std::uint64_t seed = GENERATE(range<std::uint64_t>(1, 7));
  INFO("seed " << seed);
  const auto rules = rules_from_yaml(paging_yaml());
  const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  const std::vector<Event> events = generate(seed);
  const std::size_t split = events.size() / 2;

  auto original = new_host(rules);
  Feeder original_feed;
  for (std::size_t i = 0; i < split; ++i) original_feed.feed(*original, events[i]);
  UnloggedCounts unlogged;
  unlogged["tmall"].duplicates = 3;
  unlogged["tmall"].received[0] = 3;

  TempDir dir("state_snapshot");
  const SnapshotStore store(dir.str());
  REQUIRE_FALSE(store.write(split, Instant{}, [&](SnapshotWriter& out) {
    save_state(out, *original, identity, unlogged);
  }));
  std::error_code error;
  const auto files = store.list(error);
  REQUIRE(files.size() == 1);
  std::string problem;
  const auto loaded = store.read(files[0], problem);
  REQUIRE(loaded);
  CHECK(loaded->sequence() == split);

  auto restored = new_host(rules);
  UnloggedCounts restored_unlogged;
  SnapshotReader in(loaded->payload());
  REQUIRE(load_state(in, *restored, identity, restored_unlogged) == StateLoad::kLoaded);
  CHECK(restored_unlogged.at("tmall").duplicates == 3);
  CHECK(save_bytes(*restored, identity, restored_unlogged) ==
        save_bytes(*original, identity, unlogged));

  Feeder restored_feed = original_feed;
  for (std::size_t i = split; i < events.size(); ++i) {
    original_feed.feed(*original, events[i]);
    restored_feed.feed(*restored, events[i]);
  }
  const Instant until = events.back().ts + mins(3);
  original->engine().advance_through(until);
  restored->engine().advance_through(until);
  const auto expected = state_of(*original, until);
  CHECK(state_of(*restored, until) == expected);
  // the comparison covers histograms
  CHECK(std::any_of(expected.begin(), expected.end(),
                    [](const std::string& line) { return line.starts_with("histogram"); }));
  const auto expected_alerts = alerts_of(*original, until);
  CHECK(alerts_of(*restored, until) == expected_alerts);
}

TEST_CASE("state_snapshot: alerts active at the snapshot are active after it", "[state_snapshot]") {
  const auto rules = rules_from_yaml(paging_yaml());
  const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  auto original = new_host(rules);
  // Saturday 10:00 local, inside service hours: an unanswered first round pages at 20 s.
  const Instant t0 = T("2026-11-21T10:00:00+08:00");
  original->offer(buyer("b1", "s1", "c1", t0));
  original->engine().advance(t0 + sec(40));
  const auto before = alerts_of(*original, t0 + sec(40));
  REQUIRE_FALSE(before.empty());

  auto restored = new_host(rules);
  UnloggedCounts unlogged;
  const std::string bytes = save_bytes(*original, identity, {});
  SnapshotReader in(bytes);
  REQUIRE(load_state(in, *restored, identity, unlogged) == StateLoad::kLoaded);
  CHECK(alerts_of(*restored, t0 + sec(40)) == before);
}

TEST_CASE("state_snapshot: a snapshot of other rules or settings is not loaded",
          "[state_snapshot]") {
  const auto rules = rules_from_yaml(paging_yaml());
  const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  auto original = new_host(rules);
  original->offer(buyer("b1", "s1", "c1", T("2026-11-21T10:00:00+08:00")));
  const std::string bytes = save_bytes(*original, identity, {});

  for (const RuleSetIdentity& other :
       {rule_set_identity(*rules_from_yaml(kYaml), std::chrono::hours(24), 1000),
        rule_set_identity(*rules, std::chrono::hours(48), 1000),
        rule_set_identity(*rules, std::chrono::hours(24), 10)}) {
    auto host = new_host(rules);
    UnloggedCounts unlogged;
    SnapshotReader in(bytes);
    CHECK(load_state(in, *host, other, unlogged) == StateLoad::kOtherRules);
    CHECK(host->engine().counters().accepted == 0);
  }
}

TEST_CASE("state_snapshot: a payload cut short is refused", "[state_snapshot]") {
  const auto rules = rules_from_yaml(paging_yaml());
  const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  auto original = new_host(rules);
  Feeder feed;
  for (const Event& event : generate(5)) feed.feed(*original, event);
  UnloggedCounts unlogged{{"tmall", PlatformEventCounts{}}};
  const std::string bytes = save_bytes(*original, identity, unlogged);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 20) {
    INFO("cut at " << cut);
    auto host = new_host(rules);
    UnloggedCounts loaded;
    SnapshotReader in(std::string_view(bytes).substr(0, cut));
    CHECK_THROWS_AS(load_state(in, *host, identity, loaded), SnapshotError);
  }
}

TEST_CASE("state_snapshot: a forked child writes the snapshot and reports how it went",
          "[state_snapshot]") {
  const auto rules = rules_from_yaml(paging_yaml());
  const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
  auto host = new_host(rules);
  Feeder feed;
  for (const Event& event : generate(2)) feed.feed(*host, event);
  TempDir dir("forked");
  const SnapshotStore store(dir.str());

  ForkedSnapshot child;
  REQUIRE_FALSE(child.start([&] {
    return store.write(300, Instant{},
                       [&](SnapshotWriter& out) { save_state(out, *host, identity, {}); });
  }));
  CHECK(child.running());
  CHECK(child.start([] { return std::error_code{}; }) ==
        std::make_error_code(std::errc::operation_in_progress));
  CHECK_FALSE(child.wait());
  CHECK_FALSE(child.running());
  CHECK_FALSE(child.poll().has_value());

  std::error_code error;
  const auto files = store.list(error);
  REQUIRE(files.size() == 1);
  std::string problem;
  const auto loaded = store.read(files[0], problem);
  REQUIRE(loaded);
  CHECK(loaded->payload() == save_bytes(*host, identity, {}));

  REQUIRE_FALSE(child.start([] { return std::make_error_code(std::errc::no_space_on_device); }));
  CHECK(child.wait() == std::make_error_code(std::errc::no_space_on_device));
  REQUIRE_FALSE(child.start([]() -> std::error_code { throw std::runtime_error("bad"); }));
  CHECK(child.wait());
}

// StateRebuild over a real data directory (LocalEventLog segments and snapshot files): a restore
// from the log alone, from a snapshot and the log after it, and past a damaged newest snapshot
// all give the state the live daemon had; a reload rebuilds under new rules. Stepped in chunks
// with no event loop.
#include "state_rebuild.h"

#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"
#include "local_event_log.h"
#include "temp_dir.h"

using namespace rwtest;
using replywatch::rule_set_identity;
using replywatch::RuleSet;
using replywatch::RuleSetIdentity;
using replywatch::SnapshotWriter;
using replywatch::server::DaemonMetrics;
using replywatch::server::EngineHost;
using replywatch::server::Logger;
using replywatch::server::PlatformEventCounts;
using replywatch::server::save_state;
using replywatch::server::SnapshotStore;
using replywatch::server::StateRebuild;
using replywatch::server::SteadyInstant;
using replywatch::server::TimeSource;
using replywatch::server::UnloggedCounts;
namespace storage = replywatch::storage;

namespace {

class FixedTime final : public TimeSource {
 public:
  Instant now() const override { return Instant(Duration(1795359600000)); }
  SteadyInstant steady_now() const override { return SteadyInstant(Duration(1)); }
};

std::unique_ptr<EngineHost> new_host(std::shared_ptr<const RuleSet> rules) {
  return std::make_unique<EngineHost>(std::move(rules), replywatch::EngineOptions{}, 1000);
}

// The live daemon's way with requests: advance, log what is not a duplicate, then offer.
struct Live {
  explicit Live(std::shared_ptr<const RuleSet> rules, storage::EventLog& event_log)
      : host(new_host(std::move(rules))), log(event_log) {}

  void request(const std::vector<Event>& events, Instant now) {
    host->engine().advance(now - kLateness);
    std::vector<const Event*> logged;
    for (const Event& event : events) {
      if (!host->engine().is_duplicate(event)) logged.push_back(&event);
    }
    std::promise<storage::AppendOutcome> done;
    log.append(host->engine().watermark(), logged,
               [&](storage::AppendOutcome outcome) { done.set_value(std::move(outcome)); });
    const storage::AppendOutcome outcome = done.get_future().get();
    REQUIRE_FALSE(outcome.error);
    std::size_t next_logged = 0;
    for (const Event& event : events) {
      const bool was_logged = next_logged < logged.size() && logged[next_logged] == &event;
      if (was_logged) ++next_logged;
      // A retry answered as a duplicate without a record: the log cannot count it again.
      if (host->offer(event).duplicate && !was_logged) {
        ++unlogged.received[static_cast<std::size_t>(event.type)];
        ++unlogged.duplicates;
      }
    }
  }

  std::unique_ptr<EngineHost> host;
  storage::EventLog& log;
  PlatformEventCounts unlogged;
};

// The live host's counts without the duplicates no record holds since `since`.
PlatformEventCounts counts_without(const EngineHost& host, const PlatformEventCounts& unlogged,
                                   const PlatformEventCounts& since = {}) {
  PlatformEventCounts counts = host.platform_counts(0);
  for (std::size_t t = 0; t < counts.received.size(); ++t) {
    counts.received[t] -= unlogged.received[t] - since.received[t];
  }
  counts.duplicates -= unlogged.duplicates - since.duplicates;
  return counts;
}

std::string describe_counts(const PlatformEventCounts& counts) {
  std::string line = "counts";
  for (const auto n : counts.received) line += " " + std::to_string(n);
  return line + " " + std::to_string(counts.duplicates) + " " + std::to_string(counts.late);
}

// Requests of 1 to 5 events, each arriving up to a second after its ts.
void feed(Live& live, const std::vector<Event>& events, std::size_t from, std::size_t to,
          std::mt19937_64& rng) {
  for (std::size_t i = from; i < to;) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 5, to - i);
    std::vector<Event> request(events.begin() + static_cast<std::ptrdiff_t>(i),
                               events.begin() + static_cast<std::ptrdiff_t>(i + n));
    live.request(request, events[i + n - 1].ts + Duration(static_cast<std::int64_t>(rng() % 1000)));
    i += n;
  }
}

// Every figure and the accepted count; event counts are compared on their own.
std::vector<std::string> state_of(const EngineHost& host, Instant at) {
  std::vector<std::string> out;
  for (const auto& f : host.engine().figures(at)) out.push_back(describe(f));
  out.push_back("accepted " + std::to_string(host.engine().counters().accepted));
  return out;
}

struct Rig {
  explicit Rig(std::uint64_t segment_bytes = std::uint64_t{64} << 20)
      : time(), logger(time), metrics(1000) {
    storage::LocalLogOptions options;
    options.directory = dir.file("log");
    options.segment_bytes = segment_bytes;
    storage::LogError error;
    log = storage::LocalEventLog::open(options, error);
    REQUIRE(log);
  }

  StateRebuild::Inputs inputs(std::shared_ptr<const RuleSet> rules) {
    StateRebuild::Inputs in;
    in.identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
    in.rules = std::move(rules);
    in.new_host = new_host;
    in.log = log.get();
    in.read_options.now = time.now() + std::chrono::days(3650);
    in.logger = &logger;
    in.metrics = &metrics;
    return in;
  }

  std::unique_ptr<EngineHost> restore(std::shared_ptr<const RuleSet> rules,
                                      StateRebuild** keep = nullptr) {
    storage::LogError error;
    rebuild = StateRebuild::restore(inputs(std::move(rules)), snapshots, error);
    REQUIRE(rebuild);
    int steps = 0;
    StateRebuild::Progress progress = StateRebuild::Progress::kMore;
    while ((progress = rebuild->step(37, log->next_sequence())) == StateRebuild::Progress::kMore)
      ++steps;
    REQUIRE(progress == StateRebuild::Progress::kDone);
    if (keep != nullptr) *keep = rebuild.get();
    return rebuild->take_host();
  }

  std::unique_ptr<StateRebuild> reload_to_end(std::shared_ptr<const RuleSet> rules) {
    storage::LogError error;
    auto reload = StateRebuild::reload(inputs(std::move(rules)), error);
    REQUIRE(reload);
    while (reload->step(50, log->next_sequence()) == StateRebuild::Progress::kMore) {
    }
    return reload;
  }

  void snapshot(const EngineHost& host, std::shared_ptr<const RuleSet> rules) {
    const RuleSetIdentity identity = rule_set_identity(*rules, std::chrono::hours(24), 1000);
    REQUIRE_FALSE(snapshots.write(log->next_sequence(), time.now(), [&](SnapshotWriter& out) {
      save_state(out, host, identity, UnloggedCounts{});
    }));
  }

  TempDir dir{"state_rebuild"};
  FixedTime time;
  Logger logger;
  DaemonMetrics metrics;
  std::unique_ptr<storage::LocalEventLog> log;
  SnapshotStore snapshots{dir.file("snapshots")};
  std::unique_ptr<StateRebuild> rebuild;
};

// One SLA changed: its deadline.
std::string with_longer_deadline(std::string yaml) {
  yaml.replace(yaml.find("deadline: 20s"), 13, "deadline: 25s");
  return yaml;
}

}  // namespace

TEST_CASE("state_rebuild: snapshot + log tail gives the state the log alone gives",
          "[state_rebuild]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  INFO("seed " << seed);
  Rig rig;
  REQUIRE_FALSE(rig.snapshots.prepare());
  const auto rules = rules_from_yaml(kYaml);
  const std::vector<Event> events = generate(seed);
  std::mt19937_64 rng(seed);
  Live live(rules, *rig.log);
  feed(live, events, 0, events.size() / 3, rng);
  rig.snapshot(*live.host, rules);
  const PlatformEventCounts unlogged_at_first = live.unlogged;
  feed(live, events, events.size() / 3, events.size() * 2 / 3, rng);
  rig.snapshot(*live.host, rules);
  const PlatformEventCounts unlogged_at_second = live.unlogged;
  feed(live, events, events.size() * 2 / 3, events.size(), rng);
  const Instant at = live.host->engine().watermark();
  const auto expected = state_of(*live.host, at);
  REQUIRE(live.unlogged.duplicates > 0);  // the stream has retries answered without a record

  SECTION("from the newest snapshot and the records after it") {
    StateRebuild* rebuild = nullptr;
    auto host = rig.restore(rules, &rebuild);
    host->engine().advance(at);
    CHECK(state_of(*host, at) == expected);
    CHECK(describe_counts(host->platform_counts(0)) ==
          describe_counts(counts_without(*live.host, live.unlogged, unlogged_at_second)));
    CHECK(rebuild->report().snapshot_sequence > 1);
    CHECK(rebuild->report().records ==
          rig.log->next_sequence() - rebuild->report().snapshot_sequence);
    CHECK(rig.metrics.snapshot_load_failures.Value() == 0);
  }
  SECTION("a damaged newest snapshot falls back to the previous one") {
    std::error_code error;
    const auto files = rig.snapshots.list(error);
    REQUIRE(files.size() == 2);
    std::filesystem::resize_file(files[0].path, std::filesystem::file_size(files[0].path) - 3);
    StateRebuild* rebuild = nullptr;
    auto host = rig.restore(rules, &rebuild);
    host->engine().advance(at);
    CHECK(state_of(*host, at) == expected);
    CHECK(describe_counts(host->platform_counts(0)) ==
          describe_counts(counts_without(*live.host, live.unlogged, unlogged_at_first)));
    CHECK(rebuild->report().snapshot_path == files[1].path);
    CHECK(rebuild->report().snapshots_refused == 1);
    CHECK(rig.metrics.snapshot_load_failures.Value() == 1);
  }
  SECTION("no usable snapshot: the log alone") {
    std::error_code error;
    for (const auto& file : rig.snapshots.list(error)) {
      std::filesystem::resize_file(file.path, 10);
    }
    StateRebuild* rebuild = nullptr;
    auto host = rig.restore(rules, &rebuild);
    host->engine().advance(at);
    CHECK(state_of(*host, at) == expected);
    CHECK(describe_counts(host->platform_counts(0)) ==
          describe_counts(counts_without(*live.host, live.unlogged)));
    CHECK(rebuild->report().snapshot_path.empty());
    CHECK(rebuild->report().records == rig.log->next_sequence() - 1);
    CHECK(rig.metrics.snapshot_load_failures.Value() == 2);
  }
  SECTION("snapshots of other rules are passed over, not counted as damage") {
    const auto other = rules_from_yaml(std::string(kYaml) + "\n");  // same rules: still used
    StateRebuild* rebuild = nullptr;
    auto same = rig.restore(other, &rebuild);
    CHECK_FALSE(rebuild->report().snapshot_path.empty());
    std::string changed = kYaml;
    changed.replace(changed.find("deadline: 20s"), 13, "deadline: 25s");
    auto host = rig.restore(rules_from_yaml(changed), &rebuild);
    CHECK(rebuild->report().snapshot_path.empty());
    CHECK(rig.metrics.snapshot_load_failures.Value() == 0);
  }
}

TEST_CASE("state_rebuild: a reload rebuilds the retained log under the new rules",
          "[state_rebuild]") {
  Rig rig;
  const auto rules = rules_from_yaml(kYaml);
  const std::vector<Event> events = generate(4);
  std::mt19937_64 rng(4);
  Live live(rules, *rig.log);
  feed(live, events, 0, events.size(), rng);

  const auto new_rules = rules_from_yaml(with_longer_deadline(kYaml));
  std::unique_ptr<StateRebuild> rebuild = rig.reload_to_end(new_rules);
  auto host = rebuild->take_host();

  // what a fresh host under the new rules gets from the same requests
  storage::LocalLogOptions options;
  options.directory = rig.dir.file("log2");
  storage::LogError error;
  auto other_log = storage::LocalEventLog::open(options, error);
  REQUIRE(other_log);
  Live expected(new_rules, *other_log);
  std::mt19937_64 same_rng(4);
  feed(expected, events, 0, events.size(), same_rng);
  const Instant at = live.host->engine().watermark();
  host->engine().advance(at);
  expected.host->engine().advance(at);
  CHECK(state_of(*host, at) == state_of(*expected.host, at));
  CHECK(describe_counts(host->platform_counts(0)) ==
        describe_counts(counts_without(*expected.host, expected.unlogged)));
  CHECK(state_of(*host, at) != state_of(*live.host, at));
  CHECK(rebuild->next_sequence() == rig.log->next_sequence());
}

TEST_CASE(
    "state_rebuild: a reload after retention re-derives the changed SLA and carries the "
    "unchanged ones",
    "[state_rebuild][reload]") {
  Rig rig(4096);  // small segments, so retention has whole ones to delete
  const auto rules = rules_from_yaml(kYaml);
  const std::vector<Event> events = generate(5);
  std::mt19937_64 rng(5);
  Live live(rules, *rig.log);
  feed(live, events, 0, events.size(), rng);
  rig.log->retain_from(rig.log->next_sequence() / 2);
  std::promise<void> retained;  // an empty batch completes after the retention before it
  rig.log->append(live.host->engine().watermark(), {},
                  [&](storage::AppendOutcome) { retained.set_value(); });
  retained.get_future().get();
  REQUIRE(rig.log->first_sequence() > 1);

  const auto new_rules = rules_from_yaml(with_longer_deadline(kYaml));
  std::unique_ptr<StateRebuild> rebuild = rig.reload_to_end(new_rules);
  CHECK(rebuild->report().records == rig.log->next_sequence() - rig.log->first_sequence());
  auto host = rebuild->take_host();
  const auto carried = replywatch::unchanged_slas(*rules, *new_rules);
  REQUIRE(carried.size() == 5);
  host->carry_from(*live.host, carried);

  const Instant at = live.host->engine().watermark();
  REQUIRE(host->engine().watermark() == at);
  std::map<std::string, replywatch::SlaFigures> was;
  for (const auto& f : live.host->engine().figures(at)) was.emplace(f.shop + "/" + f.sla, f);
  std::uint64_t rederived_rounds = 0;
  for (const auto& f : host->engine().figures(at)) {
    const replywatch::SlaFigures& old = was.at(f.shop + "/" + f.sla);
    INFO(f.shop << "/" << f.sla);
    if (f.sla == "every_human") {
      rederived_rounds += f.rounds;
      continue;
    }
    CHECK(f.rounds == old.rounds);
    CHECK(f.breaches == old.breaches);
    CHECK(f.warnings == old.warnings);
    CHECK(f.window_rounds == old.window_rounds);
    CHECK(f.understaffed_seconds == old.understaffed_seconds);
    const auto* histogram = host->histogram(f.ref);
    const auto* old_histogram = live.host->histogram(old.ref);
    REQUIRE((histogram == nullptr) == (old_histogram == nullptr));
    if (histogram != nullptr) CHECK(histogram->bucket_counts == old_histogram->bucket_counts);
  }
  // The changed SLA counts only what the retained log holds.
  std::uint64_t old_rounds = 0;
  for (const auto& [key, f] : was) {
    if (f.sla == "every_human") old_rounds += f.rounds;
  }
  CHECK(rederived_rounds < old_rounds);
  CHECK(describe_counts(host->platform_counts(0)) ==
        describe_counts(live.host->platform_counts(0)));
  CHECK(host->engine().counters().accepted == live.host->engine().counters().accepted);
}

// Engine::save / Engine::load: a restored engine is the same engine. Checked by taking a
// snapshot in the middle of a random stream, restoring it into a fresh engine, running the rest
// of the stream through both and comparing every figure, effect and counter; and by saving the
// restored engine again, which must give the same bytes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"
#include "replywatch/snapshot_codec.h"

using namespace rwtest;
using replywatch::Engine;
using replywatch::SnapshotError;
using replywatch::SnapshotReader;
using replywatch::SnapshotWriter;

namespace {

std::string save(const Engine& engine) {
  std::string bytes;
  SnapshotWriter writer([&](std::string_view piece) { bytes.append(piece); }, 64);
  engine.save(writer);
  writer.flush();
  return bytes;
}

void load(Engine& engine, const std::string& bytes) {
  SnapshotReader reader(bytes);
  engine.load(reader);
  reader.expect_end();
}

std::vector<std::string> effects_of(const RecordingSink& sink) {
  std::vector<std::string> out;
  for (const auto& d : sink.decided) {
    std::ostringstream line;
    line << "decided " << d.shop << " " << d.sla << " " << d.conversation << " "
         << d.effect.start.time_since_epoch().count() << " "
         << d.effect.at.time_since_epoch().count() << " " << d.effect.answered << d.effect.met
         << " " << d.effect.elapsed.count();
    out.push_back(line.str());
  }
  for (const auto& w : sink.warnings) {
    std::ostringstream line;
    line << "warning " << w.shop << " " << w.sla << " " << w.conversation << " "
         << w.effect.at.time_since_epoch().count();
    out.push_back(line.str());
  }
  for (const auto& e : sink.ended) {
    std::ostringstream line;
    line << "ended " << e.shop << " " << e.sla << " " << e.conversation << " "
         << e.effect.at.time_since_epoch().count() << " " << e.effect.retired;
    out.push_back(line.str());
  }
  for (const auto& i : sink.incidents) {
    std::ostringstream line;
    line << "incident " << i.shop << " " << i.sla << " " << i.effect.at.time_since_epoch().count();
    out.push_back(line.str());
  }
  return out;  // in the order they happened: a restored engine must keep that order too
}

std::vector<std::string> figures_of(const Engine& engine, Instant at) {
  std::vector<std::string> out;
  for (const auto& f : engine.figures(at)) out.push_back(describe(f));
  return out;
}

// Feeds events like replay (advance to the largest ts seen - lateness after each).
struct Feeder {
  Duration lateness;
  std::optional<Instant> max_seen;
  void feed(Engine& engine, const Event& event) {
    if (!max_seen || event.ts > *max_seen) max_seen = event.ts;
    engine.offer(event);
    engine.advance(*max_seen - lateness);
  }
};

}  // namespace

TEST_CASE("engine_snapshot: a restored engine continues exactly as the original",
          "[engine][snapshot]") {
  const std::uint64_t seed = GENERATE(range<std::uint64_t>(1, 13));
  // A lateness of 0 makes the out-of-order part of the stream late; 2 s keeps events waiting in
  // the reorder buffer when the snapshot is taken.
  const Duration lateness = GENERATE(Duration(0), kLateness);
  INFO("seed " << seed << " lateness " << lateness.count());
  std::vector<Event> events = generate(seed);
  std::mt19937_64 rng(seed);
  for (std::size_t i = 1; i < events.size(); i += 7) {  // some out of order
    std::swap(events[i], events[i - 1 + rng() % 2]);
  }
  const std::size_t split = events.size() / 3 + static_cast<std::size_t>(rng() % 100);
  const Instant until = events.back().ts + mins(3);

  Harness original(rules_from_yaml(kYaml));
  Feeder original_feed{lateness, {}};
  for (std::size_t i = 0; i < split; ++i) original_feed.feed(original.engine, events[i]);
  const std::string bytes = save(original.engine);

  Harness restored(rules_from_yaml(kYaml));
  load(restored.engine, bytes);
  CHECK(save(restored.engine) == bytes);
  CHECK(figures_of(restored.engine, original.engine.watermark()) ==
        figures_of(original.engine, original.engine.watermark()));
  CHECK(restored.engine.watermark() == original.engine.watermark());
  CHECK(restored.engine.next_due() == original.engine.next_due());
  const auto stats = original.engine.memory_stats();
  const auto restored_stats = restored.engine.memory_stats();
  CHECK(restored_stats.conversations == stats.conversations);
  CHECK(restored_stats.open_rounds == stats.open_rounds);
  CHECK(restored_stats.buffered_events == stats.buffered_events);
  CHECK(restored_stats.timers == stats.timers);
  CHECK(restored_stats.dedup_entries == stats.dedup_entries);

  original.sink.decided.clear();
  original.sink.warnings.clear();
  original.sink.ended.clear();
  original.sink.incidents.clear();
  Feeder restored_feed = original_feed;
  for (std::size_t i = split; i < events.size(); ++i) {
    original_feed.feed(original.engine, events[i]);
    restored_feed.feed(restored.engine, events[i]);
  }
  original.engine.advance_through(until);
  restored.engine.advance_through(until);

  const auto expected = figures_of(original.engine, until);
  CHECK(figures_of(restored.engine, until) == expected);
  CHECK(effects_of(restored.sink) == effects_of(original.sink));
  CHECK_FALSE(effects_of(original.sink).empty());
  CHECK(restored.engine.counters().accepted == original.engine.counters().accepted);
  CHECK(restored.engine.counters().duplicates == original.engine.counters().duplicates);
  CHECK(restored.engine.counters().late == original.engine.counters().late);
  CHECK(save(restored.engine) == save(original.engine));
  // the retries of events from before the snapshot were recognised after it
  CHECK(original.engine.counters().duplicates > 0);
}

TEST_CASE("engine_snapshot: a snapshot cut short anywhere is refused, never half loaded",
          "[engine][snapshot]") {
  Harness original(rules_from_yaml(kYaml));
  Feeder feed{kLateness, {}};
  const std::vector<Event> events = generate(3);
  for (std::size_t i = 0; i < 120; ++i) feed.feed(original.engine, events[i]);
  const std::string bytes = save(original.engine);
  REQUIRE(bytes.size() > 1000);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 50) {
    INFO("cut at " << cut);
    Engine engine(rules_from_yaml(kYaml));
    CHECK_THROWS_AS(load(engine, bytes.substr(0, cut)), SnapshotError);
  }
}

TEST_CASE("engine_snapshot: a snapshot of other rules is refused", "[engine][snapshot]") {
  Harness original(rules_from_yaml(kYaml));
  original.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")));
  const std::string bytes = save(original.engine);

  Engine other(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: only_one
    kind: reply_time
    deadline: 3m
)"));
  CHECK_THROWS_AS(load(other, bytes), SnapshotError);

  replywatch::EngineOptions longer;
  longer.dedup_retention = std::chrono::hours(48);
  Engine other_retention(rules_from_yaml(kYaml), longer);
  CHECK_THROWS_AS(load(other_retention, bytes), SnapshotError);
}

TEST_CASE("engine_snapshot: only a fresh engine takes a snapshot", "[engine][snapshot]") {
  Harness original(rules_from_yaml(kYaml));
  original.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")));
  original.engine.advance(T("2026-11-20T10:00:05Z"));
  const std::string bytes = save(original.engine);
  CHECK_THROWS_AS(load(original.engine, bytes), std::logic_error);
}

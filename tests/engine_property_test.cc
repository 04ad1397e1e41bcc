// Property (docs/events.md, "Ordering and lateness"): a stream out of order by less than
// allowed_lateness, with ties kept in arrival order, gives exactly the same result as the sorted
// stream.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"

using namespace rwtest;

namespace {

// Moves each run of equal-ts events, as one block, by less than the lateness.
std::vector<Event> shuffle_within_lateness(const std::vector<Event>& sorted, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ULL);
  struct Block {
    Instant key;
    std::size_t first;
    std::size_t last;  // exclusive
  };
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i + 1;
    while (j < sorted.size() && sorted[j].ts == sorted[i].ts) ++j;
    const auto jitter =
        Duration(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(kLateness.count())));
    blocks.push_back({sorted[i].ts + jitter, i, j});
    i = j;
  }
  std::stable_sort(blocks.begin(), blocks.end(),
                   [](const Block& a, const Block& b) { return a.key < b.key; });
  std::vector<Event> out;
  for (const auto& b : blocks)
    for (std::size_t k = b.first; k < b.last; ++k) out.push_back(sorted[k]);
  return out;
}

struct Outcome {
  std::vector<std::string> figures;
  std::vector<std::string> effects;
  replywatch::EventCounters counters;
  std::uint64_t total_rounds = 0;
  std::uint64_t total_breaches = 0;
  std::uint64_t total_warnings = 0;
  std::uint64_t total_incidents = 0;
};

Outcome run(const std::vector<Event>& events, Instant until) {
  Harness h(rules_from_yaml(kYaml));
  h.replay(events, kLateness);
  h.engine.advance_through(until);
  Outcome o;
  for (const auto& f : h.engine.figures(until)) {
    o.figures.push_back(describe(f));
    o.total_rounds += f.rounds;
    if (f.kind == replywatch::SlaKind::kReplyTime) o.total_breaches += f.breaches;
    if (f.kind == replywatch::SlaKind::kAgentPresence) o.total_incidents += f.breaches;
    o.total_warnings += f.warnings;
  }
  for (const auto& d : h.sink.decided) {
    std::ostringstream out;
    out << "decided " << d.shop << " " << d.sla << " " << d.effect.start.time_since_epoch().count()
        << " " << d.effect.at.time_since_epoch().count() << " " << d.effect.answered << " "
        << d.effect.met << " " << d.effect.elapsed.count();
    o.effects.push_back(out.str());
  }
  for (const auto& w : h.sink.warnings) {
    std::ostringstream out;
    out << "warning " << w.shop << " " << w.sla << " " << w.effect.start.time_since_epoch().count()
        << " " << w.effect.at.time_since_epoch().count() << " "
        << w.effect.due.time_since_epoch().count();
    o.effects.push_back(out.str());
  }
  for (const auto& i : h.sink.incidents) {
    std::ostringstream out;
    out << "incident " << i.shop << " " << i.sla << " "
        << i.effect.shortfall_start.time_since_epoch().count() << " "
        << i.effect.at.time_since_epoch().count();
    o.effects.push_back(out.str());
  }
  std::sort(o.effects.begin(), o.effects.end());
  o.counters = h.engine.counters();
  return o;
}

}  // namespace

TEST_CASE("engine_property: reordering within allowed_lateness changes nothing",
          "[engine][property]") {
  const std::uint64_t seed = GENERATE(range<std::uint64_t>(1, 21));
  INFO("seed " << seed);
  const std::vector<Event> sorted = generate(seed);
  const std::vector<Event> shuffled = shuffle_within_lateness(sorted, seed);
  REQUIRE(shuffled.size() == sorted.size());
  // the shuffle really moved something
  bool moved = false;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].id != shuffled[i].id) moved = true;
  }
  CHECK(moved);

  const Instant until = sorted.back().ts + mins(3);
  const Outcome expected = run(sorted, until);
  const Outcome actual = run(shuffled, until);

  // the stream exercises the rules (not a vacuous comparison)
  CHECK(expected.total_rounds > 0);
  CHECK(expected.total_breaches > 0);
  CHECK(expected.total_warnings > 0);
  CHECK(expected.total_incidents > 0);
  CHECK(expected.counters.duplicates > 0);

  CHECK(expected.counters.late == 0);
  CHECK(actual.counters.late == 0);  // nothing was out of order by the lateness or more
  CHECK(actual.counters.accepted == expected.counters.accepted);
  CHECK(actual.counters.duplicates == expected.counters.duplicates);
  CHECK(actual.counters.accepted + actual.counters.duplicates == sorted.size());
  CHECK(actual.figures == expected.figures);
  CHECK(actual.effects == expected.effects);
}

// Property (SPEC §6): a stream out of order by less than allowed_lateness, with ties kept in
// arrival order, gives exactly the same result as the sorted stream.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
    - days: [fri]
      from: "23:02"
      to: "23:04"
sessions:
  idle_timeout: 60s
replies:
  counted_bots: [leyan]
slas:
  - name: first_counted
    kind: reply_time
    rounds: first
    deadline: 30s
    warn_before: 10s
    objective: 0.9
    hours: service
  - name: every_human
    kind: reply_time
    replies: human
    deadline: 20s
    hours: service
    outside_hours: exclude
  - name: every_always
    kind: reply_time
    deadline: 15s
    warn_before: 5s
    window: 1h
    resolution: 5m
    min_rounds: 3
    objective: 0.5
  - name: avg
    kind: average_response
    max_average: 10s
    unanswered_cost: 45s
    window: 1h
    resolution: 5m
  - name: presence
    kind: agent_presence
    grace: 5s
    hours: service
  - name: presence_two
    kind: agent_presence
    min_online: 2
)";

constexpr Duration kLateness = Duration(2000);

// A random stream sorted by ts (equal ts allowed), with a few exact retries.
std::vector<Event> generate(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  const char* shops[] = {"s1", "s2", "s3"};
  const char* convs[] = {"c0", "c1", "c2", "c3"};
  const char* agents[] = {"a0", "a1", "a2"};
  const char* bots[] = {"leyan", "platform", "xiaoduo"};

  std::vector<Event> events;
  // Friday 22:57 local: the stream crosses the 23:00 closing and the 23:02-23:04 shift
  Instant ts = T("2026-11-20T22:57:00+08:00");
  for (int i = 0; events.size() < 300; ++i) {
    if (pick(4) != 0) ts += Duration(1 + pick(3000));  // a quarter share the previous ts
    const std::string shop = shops[pick(3)];
    const std::string conv = convs[pick(4)];
    const std::string id = "e" + std::to_string(i);
    const int kind = pick(100);
    Event e;
    if (kind < 40) {
      e = buyer(id, shop, conv, ts);
    } else if (kind < 60) {
      e = agent_msg(id, shop, conv, ts);
    } else if (kind < 75) {
      e = bot_msg(id, shop, conv, ts, bots[pick(3)]);
    } else if (kind < 80) {
      e = closed(id, shop, conv, ts);
    } else {
      e = status(id, shop, agents[pick(3)], pick(2) == 0, ts);
    }
    events.push_back(e);
    if (pick(20) == 0) events.push_back(e);  // a webhook retry: same id, same ts
  }
  return events;
}

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

std::string describe(const replywatch::SlaFigures& f) {
  std::ostringstream out;
  out << std::setprecision(17) << f.platform << "/" << f.shop << "/" << f.sla
      << " kind=" << static_cast<int>(f.kind) << " rounds=" << f.rounds
      << " breaches=" << f.breaches << " warnings=" << f.warnings << " open=" << f.open_rounds
      << " at_risk=" << f.at_risk_rounds
      << " oldest=" << (f.oldest_open_start ? f.oldest_open_start->time_since_epoch().count() : -1)
      << " window_rounds=" << f.window_rounds << " compliance=" << f.compliance_ratio
      << " average=" << f.average_response_seconds << " budget="
      << (f.error_budget_remaining_rounds ? std::to_string(*f.error_budget_remaining_rounds)
                                          : std::string("null"))
      << " understaffed=" << f.understaffed_seconds << " violating=" << f.violating
      << " online=" << f.agents_online;
  return out.str();
}

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

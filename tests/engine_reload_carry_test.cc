// Engine::carry_from and unchanged_slas: what a reload keeps. An engine built under the new
// rules from the same events (all of them, or only the retained tail) takes over the previous
// engine's unchanged SLAs; it must then show their figures as they were, continue exactly as an
// engine that saw every event under the new rules, and stay self-consistent (open and at-risk
// counts agree with the rounds it holds).
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"
#include "replywatch/rule_fingerprint.h"

using namespace rwtest;
using replywatch::CarriedSla;
using replywatch::Engine;
using replywatch::SlaFigures;

namespace {

// kYaml with every_human's deadline changed and a new SLA at the end.
std::string changed_yaml() {
  std::string yaml = kYaml;
  const std::string from = "    replies: human\n    deadline: 20s\n";
  const std::size_t at = yaml.find(from);
  REQUIRE(at != std::string::npos);
  yaml.replace(at, from.size(), "    replies: human\n    deadline: 12s\n");
  yaml += "  - name: added\n    kind: reply_time\n    deadline: 9s\n";
  return yaml;
}

struct Feeder {
  std::optional<Instant> max_seen;
  void feed(Engine& engine, const Event& event) {
    if (!max_seen || event.ts > *max_seen) max_seen = event.ts;
    engine.offer(event);
    engine.advance(*max_seen - kLateness);
  }
};

using Key = std::tuple<std::string, std::string>;  // shop, SLA

std::map<Key, SlaFigures> by_key(const Engine& engine, Instant at) {
  std::map<Key, SlaFigures> out;
  for (const SlaFigures& f : engine.figures(at)) out.emplace(Key{f.shop, f.sla}, f);
  return out;
}

bool keep_all(std::uint32_t, const std::string&) { return true; }

// open_rounds and at_risk_rounds of every (shop, SLA) agree with the undecided rounds the engine
// holds.
void check_consistent(const Engine& engine) {
  std::map<Key, std::uint64_t> open;
  std::map<Key, std::uint64_t> at_risk;
  engine.for_each_open_round([&](const replywatch::OpenRoundView& round) {
    const Key key{engine.shop_name(round.ref.shop),
                  engine.rules().platforms[round.ref.platform].slas[round.ref.sla].name};
    ++open[key];
    if (round.at_risk) ++at_risk[key];
  });
  for (const auto& [key, f] : by_key(engine, engine.watermark())) {
    INFO(std::get<0>(key) << "/" << std::get<1>(key));
    CHECK(f.open_rounds == open[key]);
    CHECK(f.at_risk_rounds == at_risk[key]);
  }
}

}  // namespace

TEST_CASE("engine_reload_carry: unchanged SLAs are matched by platform, name and fingerprint",
          "[engine][reload]") {
  const auto before = rules_from_yaml(kYaml);
  const auto after = rules_from_yaml(changed_yaml());
  const std::vector<CarriedSla> carried = replywatch::unchanged_slas(*before, *after);
  std::vector<std::string> names;
  for (const CarriedSla& pair : carried) {
    CHECK(pair.platform == 0);
    CHECK(pair.from_platform == 0);
    CHECK(pair.sla == pair.from_sla);
    names.push_back(after->platforms[0].slas[pair.sla].name);
  }
  CHECK(names == std::vector<std::string>{"first_counted", "every_always", "avg", "presence",
                                          "presence_two"});
  CHECK(replywatch::unchanged_slas(*before, *before).size() == 6);
  // Another platform name shares nothing.
  std::string other = kYaml;
  other.replace(other.find("tmall"), 5, "jd");
  CHECK(replywatch::unchanged_slas(*before, *rules_from_yaml(other)).empty());
}

TEST_CASE("engine_reload_carry: with the whole log, the carried engine equals a full replay",
          "[engine][reload]") {
  const std::uint64_t seed = GENERATE(range<std::uint64_t>(1, 9));
  INFO("seed " << seed);
  const std::vector<Event> events = generate(seed);
  const std::size_t split = events.size() / 2;
  const auto before = rules_from_yaml(kYaml);
  const auto after = rules_from_yaml(changed_yaml());

  Engine old_engine(before);
  Engine rebuilt(after);
  Engine reference(after);
  Feeder old_feed, rebuilt_feed, reference_feed;
  for (std::size_t i = 0; i < split; ++i) {
    old_feed.feed(old_engine, events[i]);
    rebuilt_feed.feed(rebuilt, events[i]);
    reference_feed.feed(reference, events[i]);
  }
  rebuilt.carry_from(old_engine, replywatch::unchanged_slas(*before, *after), keep_all);
  const Instant at = old_engine.watermark();
  const auto old_figures = by_key(old_engine, at);
  for (const auto& [key, f] : by_key(rebuilt, at)) {
    if (std::get<1>(key) == "every_human" || std::get<1>(key) == "added") continue;
    INFO(std::get<0>(key) << "/" << std::get<1>(key));
    CHECK(describe(f) == describe(old_figures.at(key)));
  }
  check_consistent(rebuilt);

  for (std::size_t i = split; i < events.size(); ++i) {
    rebuilt_feed.feed(rebuilt, events[i]);
    reference_feed.feed(reference, events[i]);
  }
  const Instant until = events.back().ts + mins(3);
  rebuilt.advance_through(until);
  reference.advance_through(until);
  std::vector<std::string> got, expected;
  for (const auto& f : rebuilt.figures(until)) got.push_back(describe(f));
  for (const auto& f : reference.figures(until)) expected.push_back(describe(f));
  CHECK(got == expected);
  CHECK(rebuilt.counters().accepted == reference.counters().accepted);
  CHECK(rebuilt.counters().duplicates == reference.counters().duplicates);
  check_consistent(rebuilt);
}

TEST_CASE(
    "engine_reload_carry: from the retained tail only, unchanged SLAs keep their counters, "
    "shops and agents",
    "[engine][reload]") {
  const std::uint64_t seed = GENERATE(range<std::uint64_t>(1, 9));
  INFO("seed " << seed);
  const std::vector<Event> events = generate(seed);
  const std::size_t dropped = events.size() / 3;  // what retention took
  const std::size_t split = 2 * events.size() / 3;
  const auto before = rules_from_yaml(kYaml);
  const auto after = rules_from_yaml(changed_yaml());

  Engine old_engine(before);
  Engine rebuilt(after);
  Feeder old_feed, rebuilt_feed;
  for (std::size_t i = 0; i < split; ++i) {
    old_feed.feed(old_engine, events[i]);
    if (i >= dropped) {
      rebuilt_feed.feed(rebuilt, events[i]);
    } else {
      rebuilt_feed.max_seen = old_feed.max_seen;  // the tail starts where the watermark was
    }
  }
  REQUIRE(rebuilt.watermark() == old_engine.watermark());
  const auto carried = replywatch::unchanged_slas(*before, *after);
  rebuilt.carry_from(old_engine, carried, keep_all);
  const Instant at = old_engine.watermark();
  const auto old_figures = by_key(old_engine, at);
  const auto new_figures = by_key(rebuilt, at);
  // Every shop of the old engine is still there, with its agents.
  CHECK(rebuilt.shop_count() == old_engine.shop_count());
  for (const auto& [key, was] : old_figures) {
    INFO(std::get<0>(key) << "/" << std::get<1>(key));
    const std::string& sla = std::get<1>(key);
    if (sla == "every_human") continue;
    REQUIRE(new_figures.count(key) == 1);
    const SlaFigures& now = new_figures.at(key);
    CHECK(now.rounds == was.rounds);
    CHECK(now.breaches == was.breaches);
    CHECK(now.warnings == was.warnings);
    CHECK(now.window_rounds == was.window_rounds);
    CHECK(now.compliance_ratio == was.compliance_ratio);
    CHECK(now.understaffed_seconds == was.understaffed_seconds);
    CHECK(now.violating == was.violating);
    CHECK(now.agents_online == was.agents_online);
  }
  CHECK(rebuilt.counters().accepted == old_engine.counters().accepted);
  check_consistent(rebuilt);

  // It goes on counting from there, never below the engine it replaced.
  for (std::size_t i = split; i < events.size(); ++i) {
    old_feed.feed(old_engine, events[i]);
    rebuilt_feed.feed(rebuilt, events[i]);
  }
  const Instant until = events.back().ts + mins(3);
  old_engine.advance_through(until);
  rebuilt.advance_through(until);
  const auto old_end = by_key(old_engine, until);
  for (const auto& [key, now] : by_key(rebuilt, until)) {
    if (std::get<1>(key) == "every_human" || std::get<1>(key) == "added") continue;
    INFO(std::get<0>(key) << "/" << std::get<1>(key));
    CHECK(now.rounds >= new_figures.at(key).rounds);
    // Presence is carried whole (agents included), so it continues exactly.
    if (now.kind == replywatch::SlaKind::kAgentPresence) {
      CHECK(describe(now) == describe(old_end.at(key)));
    }
  }
  check_consistent(rebuilt);
}

TEST_CASE("engine_reload_carry: only engines at the same watermark carry; refused shops stay out",
          "[engine][reload]") {
  const auto rules = rules_from_yaml(kYaml);
  Engine old_engine(rules);
  old_engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")));
  old_engine.offer(buyer("b2", "s2", "c1", T("2026-11-20T10:00:00Z")));
  old_engine.advance(T("2026-11-20T10:00:05Z"));
  Engine behind(rules);
  CHECK_THROWS_AS(behind.carry_from(old_engine, {}, keep_all), std::logic_error);

  Engine rebuilt(rules);
  rebuilt.advance(T("2026-11-20T10:00:05Z"));
  rebuilt.carry_from(old_engine, replywatch::unchanged_slas(*rules, *rules),
                     [](std::uint32_t, const std::string& shop) { return shop != "s2"; });
  REQUIRE(rebuilt.shop_count() == 1);
  CHECK(rebuilt.shop_name(0) == "s1");
}

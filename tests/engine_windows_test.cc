// Hand-worked window, budget and figures scenarios (docs/rules.md, "Windows, objectives and error
// budgets").
#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

constexpr const char* kShanghaiYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: day_bucket
    kind: reply_time
    deadline: 3m
    window: 1d
    resolution: 1d
  - name: two_days
    kind: reply_time
    deadline: 3m
    window: 2d
    resolution: 1d
  - name: minute_res
    kind: reply_time
    deadline: 3m
    window: 1d
  - name: thirty_days
    kind: reply_time
    deadline: 3m
    window: 30d
  - name: seven_days
    kind: reply_time
    deadline: 3m
    window: 7d
  - name: budget_90
    kind: reply_time
    deadline: 3m
    objective: 0.9
  - name: obj_min5
    kind: reply_time
    deadline: 3m
    objective: 0.9
    min_rounds: 5
)";

constexpr const char* kKolkataYaml = R"(
platform: flipkart
timezone: Asia/Kolkata
slas:
  - name: hour_bucket
    kind: reply_time
    deadline: 3m
    window: 1h
    resolution: 1h
  - name: kday
    kind: reply_time
    deadline: 3m
    window: 1d
    resolution: 1d
)";

// One round answered after 10 s.
std::vector<Event> answered_round(const std::string& shop, const std::string& conv, Instant start,
                                  const std::string& platform = "tmall") {
  return {buyer("b-" + conv, shop, conv, start, platform),
          agent_msg("a-" + conv, shop, conv, start + sec(10), platform)};
}

void add(std::vector<Event>& into, const std::vector<Event>& more) {
  into.insert(into.end(), more.begin(), more.end());
}

}  // namespace

TEST_CASE("engine: windows: 1d buckets are calendar days in the platform time zone",
          "[engine][windows]") {
  Harness h(rules_from_yamls({kShanghaiYaml, kKolkataYaml}));
  std::vector<Event> events;
  // Shanghai: 23:59 and 00:01 local are 15:59Z and 16:01Z, the same UTC day
  add(events, answered_round("s1", "c1", T("2026-11-20T23:59:00+08:00")));
  add(events, answered_round("s1", "c2", T("2026-11-21T00:01:00+08:00")));
  h.offer_all(events);

  Instant t = T("2026-11-20T23:59:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "day_bucket").window_rounds == 1);

  t = T("2026-11-21T00:05:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "day_bucket").rounds == 2);
  CHECK(h.fig(t, "s1", "day_bucket").window_rounds == 1);  // only the 00:01 round
  CHECK(h.fig(t, "s1", "two_days").window_rounds == 2);    // 11-20 and 11-21
  CHECK(h.fig(t, "s1", "minute_res").window_rounds == 2);  // the last 1440 minutes

  t = T("2026-11-21T23:59:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "day_bucket").window_rounds == 1);
  CHECK(h.fig(t, "s1", "two_days").window_rounds == 2);

  t = T("2026-11-22T00:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "day_bucket").window_rounds == 0);
  CHECK(h.fig(t, "s1", "day_bucket").compliance_ratio == 1.0);  // 1 when none
  CHECK(h.fig(t, "s1", "two_days").window_rounds == 1);         // 11-22 and 11-21

  t = T("2026-11-23T00:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "two_days").window_rounds == 0);

  // Kolkata (local midnight is 18:30Z), checked at 00:05 local on the 21st
  const Instant k = T("2026-11-21T00:05:00+05:30");
  Harness hk(rules_from_yamls({kShanghaiYaml, kKolkataYaml}));
  std::vector<Event> kevents;
  add(kevents, answered_round("k1", "c1", T("2026-11-20T23:59:00+05:30"), "flipkart"));
  add(kevents, answered_round("k1", "c2", T("2026-11-21T00:01:00+05:30"), "flipkart"));
  hk.offer_all(kevents);
  hk.engine.advance_through(k);
  CHECK(hk.fig(k, "k1", "kday", "flipkart").rounds == 2);
  CHECK(hk.fig(k, "k1", "kday", "flipkart").window_rounds == 1);
}

TEST_CASE("engine: windows: shorter buckets are aligned to the Unix epoch", "[engine][windows]") {
  Harness h(rules_from_yamls({kShanghaiYaml, kKolkataYaml}));
  std::vector<Event> events;
  // Kolkata is +05:30: epoch-aligned hours start at :30 local. 10:29:59 local is 04:59:59Z,
  // 10:30:00 local is 05:00:00Z: different 1h buckets.
  add(events, answered_round("k1", "c1", T("2026-11-20T10:29:59+05:30"), "flipkart"));
  add(events, answered_round("k1", "c2", T("2026-11-20T10:30:00+05:30"), "flipkart"));
  h.offer_all(events);
  const Instant t = T("2026-11-20T10:45:00+05:30");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "k1", "hour_bucket", "flipkart");
  CHECK(f.rounds == 2);
  CHECK(f.window_rounds == 1);  // the bucket [05:00Z, 06:00Z) only
  CHECK(h.fig(t, "k1", "kday", "flipkart").window_rounds == 2);
}

TEST_CASE("engine: windows: a decided round belongs to the bucket of its start",
          "[engine][windows]") {
  Harness h(rules_from_yaml(kShanghaiYaml));
  // started 23:59 on the 20th, breached 00:02 on the 21st
  h.offer_all({buyer("b1", "s2", "c1", T("2026-11-20T23:59:00+08:00"))});
  const Instant t = T("2026-11-21T00:05:00+08:00");
  h.engine.advance_through(t);
  auto f = h.fig(t, "s2", "day_bucket");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 1);
  CHECK(f.window_rounds == 0);  // its bucket is the 20th
  CHECK(f.compliance_ratio == 1.0);
  f = h.fig(t, "s2", "two_days");
  CHECK(f.window_rounds == 1);
  CHECK(f.compliance_ratio == 0.0);
}

TEST_CASE("engine: windows: a 1d window of 1m buckets", "[engine][windows]") {
  Harness h(rules_from_yaml(kShanghaiYaml));
  h.offer_all(answered_round("s3", "c1", T("2026-11-20T10:00:00+08:00")));
  // at 09:59:59.999 the window is [10:00 day 1, 10:00 day 2)
  Instant t = T("2026-11-21T09:59:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s3", "minute_res").window_rounds == 1);
  CHECK(h.fig(t, "s3", "day_bucket").window_rounds == 0);  // calendar day 21 only
  // at 10:00 it is [10:01 day 1, 10:01 day 2)
  t = T("2026-11-21T10:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s3", "minute_res").window_rounds == 0);
}

TEST_CASE("engine: windows: default resolutions for 7d (1h) and 30d (1d)", "[engine][windows]") {
  Harness h(rules_from_yaml(kShanghaiYaml));
  h.offer_all(answered_round("s4", "c1", T("2026-11-01T10:00:00+08:00")));
  // 7d of 1h buckets at 11-08 09:59:59.999: [11-01 10:00, 11-08 10:00)
  Instant t = T("2026-11-08T09:59:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s4", "seven_days").window_rounds == 1);
  t = T("2026-11-08T10:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s4", "seven_days").window_rounds == 0);
  // 30d of calendar days at 11-30 23:59 covers 11-01..11-30
  t = T("2026-11-30T23:59:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s4", "thirty_days").window_rounds == 1);
  // at 12-01 00:00 it covers 11-02..12-01 (1h buckets would still hold 11-01 10:00)
  t = T("2026-12-01T00:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s4", "thirty_days").window_rounds == 0);
  CHECK(h.fig(t, "s4", "thirty_days").rounds == 1);
}

TEST_CASE("engine: windows: error budget at objective 0.9 with 100 rounds", "[engine][windows]") {
  Harness h(rules_from_yaml(kShanghaiYaml));
  std::vector<Event> events;
  const Instant base = T("2026-11-20T10:00:00+08:00");
  for (int i = 0; i < 100; ++i) {
    const std::string conv = "c" + std::to_string(i);
    const Instant start = base + sec(10 * i);
    events.push_back(buyer("b" + conv, "s5", conv, start));
    if (i >= 3) events.push_back(agent_msg("a" + conv, "s5", conv, start + mins(1)));
  }
  // 10 rounds, all met, in another shop
  for (int i = 0; i < 10; ++i) {
    const std::string conv = "c" + std::to_string(i);
    add(events, answered_round("s6", conv, base + sec(i)));
  }
  // 10 rounds, one breached, in a third shop
  for (int i = 0; i < 10; ++i) {
    const std::string conv = "c" + std::to_string(i);
    if (i == 0) {
      events.push_back(buyer("b" + conv, "s7", conv, base));
    } else {
      add(events, answered_round("s7", conv, base + sec(i)));
    }
  }
  h.offer_all(events);
  const Instant t = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(t);
  auto f = h.fig(t, "s5", "budget_90");
  CHECK(f.rounds == 100);
  CHECK(f.breaches == 3);
  CHECK(f.window_rounds == 100);
  CHECK(f.compliance_ratio == Approx(0.97).margin(1e-12));
  // floor(100 * 0.1 + 1e-9) = 10, minus 3 breaches
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == 7);
  CHECK_FALSE(f.violating);

  // floor(10 * (1 - 0.9) + 1e-9) = 1: 10 * 0.09999999999999998 is just under 1
  f = h.fig(t, "s6", "budget_90");
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == 1);

  // 9 of 10 met: compliance 0.9 is not below the objective; budget 1 - 1 = 0
  f = h.fig(t, "s7", "budget_90");
  CHECK(f.compliance_ratio == Approx(0.9).margin(1e-12));
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == 0);
  CHECK_FALSE(f.violating);

  // no objective: no budget, never violating
  f = h.fig(t, "s5", "day_bucket");
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());
  CHECK_FALSE(f.violating);
}

TEST_CASE("engine: windows: violating needs window_rounds >= min_rounds", "[engine][windows]") {
  Harness h(rules_from_yaml(kShanghaiYaml));
  std::vector<Event> events;
  const Instant base = T("2026-11-20T10:00:00+08:00");
  add(events, answered_round("s8", "c0", base));
  add(events, answered_round("s8", "c1", base));
  add(events, answered_round("s8", "c2", base));
  events.push_back(buyer("b-c3", "s8", "c3", base));  // breached 10:03
  add(events, answered_round("s8", "c4", base + mins(10)));
  h.offer_all(events);

  Instant t = T("2026-11-20T10:05:00+08:00");
  h.engine.advance_through(t);
  auto f = h.fig(t, "s8", "obj_min5");
  CHECK(f.window_rounds == 4);
  CHECK(f.compliance_ratio == Approx(0.75).margin(1e-12));
  CHECK_FALSE(f.violating);  // 0.75 < 0.9 but only 4 of 5 rounds
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == -1);  // floor(0.4 + 1e-9) - 1
  // min_rounds 1: violating already
  CHECK(h.fig(t, "s8", "budget_90").violating);

  t = T("2026-11-20T10:12:00+08:00");
  h.engine.advance_through(t);
  f = h.fig(t, "s8", "obj_min5");
  CHECK(f.window_rounds == 5);
  CHECK(f.compliance_ratio == Approx(0.8).margin(1e-12));
  CHECK(f.violating);
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == -1);  // floor(0.5 + 1e-9) - 1
}

TEST_CASE("engine: figures: one sorted entry per platform, shop and SLA with applied events",
          "[engine][windows]") {
  const char* zeta_yaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: zeta
    kind: reply_time
    deadline: 3m
    objective: 0.9
  - name: alpha
    kind: agent_presence
  - name: mid
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
  - name: beta
    kind: reply_time
    deadline: 3m
)";
  const char* jd_yaml = R"(
platform: jd
timezone: Asia/Shanghai
slas:
  - name: only
    kind: reply_time
    deadline: 3m
)";
  Harness h(rules_from_yamls({zeta_yaml, jd_yaml}));
  const Instant until = T("2026-11-20T11:00:00+08:00");
  h.offer_all({
      status("st1", "s_b", "a1", true, T("2026-11-20T10:00:00+08:00")),
      buyer("b1", "s_a", "c1", T("2026-11-20T10:00:00+08:00")),
      buyer("b1", "s_j", "c1", T("2026-11-20T10:00:00+08:00"), "jd"),
      // only after until: never applied, so the shop does not appear
      buyer("b1", "s_late", "c1", T("2026-11-20T11:00:00.001+08:00")),
  });
  h.engine.advance_through(until);
  const auto all = h.engine.figures(until);
  std::vector<std::tuple<std::string, std::string, std::string>> keys;
  for (const auto& f : all) keys.emplace_back(f.platform, f.shop, f.sla);
  const std::vector<std::tuple<std::string, std::string, std::string>> expected{
      {"jd", "s_j", "only"},    {"tmall", "s_a", "alpha"}, {"tmall", "s_a", "beta"},
      {"tmall", "s_a", "mid"},  {"tmall", "s_a", "zeta"},  {"tmall", "s_b", "alpha"},
      {"tmall", "s_b", "beta"}, {"tmall", "s_b", "mid"},   {"tmall", "s_b", "zeta"},
  };
  CHECK(keys == expected);

  // s_b has only an agent_status event: every SLA appears with empty figures
  auto f = h.fig(until, "s_b", "zeta");
  CHECK(f.kind == replywatch::SlaKind::kReplyTime);
  CHECK(f.rounds == 0);
  CHECK(f.window_rounds == 0);
  CHECK(f.compliance_ratio == 1.0);  // reply_time, none decided
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == 0);  // floor(0 + 1e-9) - 0
  CHECK_FALSE(f.violating);
  f = h.fig(until, "s_b", "beta");
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());  // reply_time without objective
  CHECK(f.compliance_ratio == 1.0);
  f = h.fig(until, "s_b", "mid");
  CHECK(f.kind == replywatch::SlaKind::kAverageResponse);
  CHECK(f.compliance_ratio == 0.0);  // does not apply
  CHECK(f.average_response_seconds == 0.0);
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());
  f = h.fig(until, "s_b", "alpha");
  CHECK(f.kind == replywatch::SlaKind::kAgentPresence);
  CHECK(f.understaffed_seconds == 0.0);
  CHECK(f.compliance_ratio == 0.0);

  // s_a: one round breached at 10:03 in reply_time, capped at 10:10 in average_response
  f = h.fig(until, "s_a", "zeta");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 1);
  CHECK(f.compliance_ratio == 0.0);
  CHECK(f.average_response_seconds == 0.0);  // does not apply to reply_time
  CHECK(f.understaffed_seconds == 0.0);
  REQUIRE(f.error_budget_remaining_rounds.has_value());
  CHECK(*f.error_budget_remaining_rounds == -1);  // floor(0.1 + 1e-9) - 1
  CHECK(f.violating);
  f = h.fig(until, "s_a", "mid");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 0);
  CHECK(f.warnings == 0);
  CHECK(f.average_response_seconds == Approx(600.0).margin(1e-9));
  CHECK(f.compliance_ratio == 0.0);
  CHECK(f.understaffed_seconds == 0.0);
  // alpha: nobody online in s_a since 10:00 (hours always, grace 0): one incident, 1h short
  f = h.fig(until, "s_a", "alpha");
  CHECK(f.rounds == 0);
  CHECK(f.window_rounds == 0);
  CHECK(f.open_rounds == 0);
  CHECK(f.breaches == 1);
  CHECK(f.understaffed_seconds == Approx(3600.0).margin(1e-6));
  CHECK(f.violating);
}

TEST_CASE("engine: windows: 1d buckets follow DST-length days", "[engine][windows]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: America/Los_Angeles
slas:
  - name: day_bucket
    kind: reply_time
    deadline: 3m
    window: 1d
    resolution: 1d
)"));
  std::vector<Event> events;
  // 2026-03-08 is 23h long: 00:30 PST (08:30Z) and 23:30 PDT (06:30Z on the 9th)
  add(events, answered_round("spring", "c1", T("2026-03-08T08:30:00Z")));
  add(events, answered_round("spring", "c2", T("2026-03-09T06:30:00Z")));
  // 2026-11-01 is 25h long: 00:30 PDT (07:30Z) and 23:30 PST (07:30Z on the 2nd)
  add(events, answered_round("fall", "c1", T("2026-11-01T07:30:00Z")));
  add(events, answered_round("fall", "c2", T("2026-11-02T07:30:00Z")));
  h.offer_all(events);

  // 23:59 PDT on 03-08: both rounds are in the calendar day 03-08
  Instant t = T("2026-03-09T06:59:00Z");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "spring", "day_bucket").window_rounds == 2);
  // 00:00 PDT on 03-09: a new day
  t = T("2026-03-09T07:00:00Z");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "spring", "day_bucket").window_rounds == 0);

  // 23:59 PST on 11-01: both rounds are in the calendar day 11-01
  t = T("2026-11-02T07:59:00Z");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "fall", "day_bucket").window_rounds == 2);
  // 00:00 PST on 11-02
  t = T("2026-11-02T08:00:00Z");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "fall", "day_bucket").window_rounds == 0);
  CHECK(h.fig(t, "fall", "day_bucket").rounds == 2);
}

// Hand-worked average_response scenarios (docs/rules.md, "SLA kinds").
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

// SLA indices in file order: 0 avg_40s, 1 avg_min3, 2 avg_business.
constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: avg_40s
    kind: average_response
    rounds: every
    replies: human
    max_average: 40s
    unanswered_cost: 600s
  - name: avg_min3
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
    min_rounds: 3
  - name: avg_business
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
    hours: service
)";

}  // namespace

TEST_CASE("engine: average_response averages the cost of decided rounds",
          "[engine][average_response]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:00:30+08:00")),  // 30s
      buyer("b2", "s1", "c2", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a2", "s1", "c2", T("2026-11-20T10:01:00+08:00")),  // 60s
      buyer("b3", "s1", "c3", T("2026-11-20T10:02:00+08:00")),
      agent_msg("a3", "s1", "c3", T("2026-11-20T10:02:45+08:00")),  // 45s
  });
  Instant t = T("2026-11-20T10:01:30+08:00");
  auto f = h.at(t, "s1", "avg_40s");
  CHECK(f.kind == replywatch::SlaKind::kAverageResponse);
  CHECK(f.rounds == 2);
  CHECK(f.window_rounds == 2);
  CHECK(f.average_response_seconds == Approx(45.0).margin(1e-9));  // (30 + 60) / 2
  CHECK(f.violating);                                              // 45 > 40, 2 >= 1 round
  CHECK(f.breaches == 0);            // a costly round is not a breach by itself
  CHECK(f.compliance_ratio == 0.0);  // reply_time only
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());
  CHECK(f.warnings == 0);
  CHECK(f.open_rounds == 0);
  // min_rounds 3: same average, but only 2 decided rounds
  auto m = h.fig(t, "s1", "avg_min3");
  CHECK(m.average_response_seconds == Approx(45.0).margin(1e-9));
  CHECK_FALSE(m.violating);

  t = T("2026-11-20T10:10:00+08:00");
  f = h.at(t, "s1", "avg_40s");
  CHECK(f.rounds == 3);
  CHECK(f.average_response_seconds == Approx(45.0).margin(1e-9));  // 135 / 3
  m = h.fig(t, "s1", "avg_min3");
  CHECK(m.window_rounds == 3);
  CHECK(m.violating);  // now 3 >= min_rounds
}

TEST_CASE("engine: average_response exactly at max_average is not violating",
          "[engine][average_response]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:00:40+08:00")),
      buyer("b2", "s1", "c2", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a2", "s1", "c2", T("2026-11-20T10:00:40+08:00")),
  });
  const auto f = h.at(T("2026-11-20T10:10:00+08:00"), "s1", "avg_40s");
  CHECK(f.average_response_seconds == Approx(40.0).margin(1e-9));
  CHECK_FALSE(f.violating);  // violating only while the average exceeds max_average
}

TEST_CASE("engine: average_response unanswered rounds cost unanswered_cost at the cap",
          "[engine][average_response]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s3: never answered: decided at 10:10 (600s) with cost 600
      buyer("b1", "s3", "c1", T("2026-11-20T10:00:00+08:00")),
      // s4: answered exactly at the cap: the reply is applied first, cost 600, answered
      buyer("b1", "s4", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s4", "c1", T("2026-11-20T10:10:00+08:00")),
      // s5: answered 1 ms after the cap: decided by the cap at 10:10
      buyer("b1", "s5", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s5", "c1", T("2026-11-20T10:10:00.001+08:00")),
  });
  Instant t = T("2026-11-20T10:09:59.999+08:00");
  auto f = h.at(t, "s3", "avg_40s");
  CHECK(f.rounds == 0);
  CHECK(f.open_rounds == 1);
  CHECK(f.window_rounds == 0);
  CHECK(f.average_response_seconds == 0.0);  // 0 when none decided
  CHECK_FALSE(f.violating);

  t = T("2026-11-20T10:10:00+08:00");
  f = h.at(t, "s3", "avg_40s");
  CHECK(f.rounds == 1);
  CHECK(f.open_rounds == 0);
  CHECK(f.breaches == 0);
  CHECK(f.average_response_seconds == Approx(600.0).margin(1e-9));
  CHECK(f.violating);

  const auto s3 = h.sink.decided_for("s3", 0);
  REQUIRE(s3.size() == 1);
  CHECK_FALSE(s3[0].effect.answered);
  CHECK(s3[0].effect.at == T("2026-11-20T10:10:00+08:00"));
  CHECK(s3[0].effect.elapsed == sec(600));
  const auto s4 = h.sink.decided_for("s4", 0);
  REQUIRE(s4.size() == 1);
  CHECK(s4[0].effect.answered);
  CHECK(s4[0].effect.at == T("2026-11-20T10:10:00+08:00"));
  CHECK(s4[0].effect.elapsed == sec(600));
  const auto s5 = h.sink.decided_for("s5", 0);
  REQUIRE(s5.size() == 1);
  CHECK_FALSE(s5[0].effect.answered);
  CHECK(s5[0].effect.at == T("2026-11-20T10:10:00+08:00"));
  CHECK(s5[0].effect.elapsed == sec(600));

  // the reply after the cap changes nothing
  t = T("2026-11-20T10:20:00+08:00");
  f = h.at(t, "s5", "avg_40s");
  CHECK(f.rounds == 1);
  CHECK(f.average_response_seconds == Approx(600.0).margin(1e-9));
  CHECK(h.sink.decided_for("s5", 0).size() == 1);
  CHECK(h.fig(t, "s4", "avg_40s").average_response_seconds == Approx(600.0).margin(1e-9));
}

TEST_CASE("engine: average_response on business time", "[engine][average_response]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s6: 30s before closing + 30s after opening = 60s of business time
      buyer("b1", "s6", "c1", T("2026-11-20T22:59:30+08:00")),
      agent_msg("a1", "s6", "c1", T("2026-11-21T09:00:30+08:00")),
      // s7: never answered: 5m before 23:00, 5m after 09:00: capped at 09:05 the next day
      buyer("b1", "s7", "c1", T("2026-11-20T22:55:00+08:00")),
  });
  const Instant t = T("2026-11-21T10:00:00+08:00");
  h.engine.advance_through(t);
  const auto s6 = h.sink.decided_for("s6", 2);
  REQUIRE(s6.size() == 1);
  CHECK(s6[0].effect.answered);
  CHECK(s6[0].effect.elapsed == sec(60));
  CHECK(h.fig(t, "s6", "avg_business").average_response_seconds == Approx(60.0).margin(1e-9));
  const auto s7 = h.sink.decided_for("s7", 2);
  REQUIRE(s7.size() == 1);
  CHECK_FALSE(s7[0].effect.answered);
  CHECK(s7[0].effect.at == T("2026-11-21T09:05:00+08:00"));
  // on wall time (avg_40s) the same round is capped at 23:05
  const auto s7_wall = h.sink.decided_for("s7", 0);
  REQUIRE(s7_wall.size() == 1);
  CHECK(s7_wall[0].effect.at == T("2026-11-20T23:05:00+08:00"));
}

TEST_CASE("engine: average_response is over the window; rounds are all-time",
          "[engine][average_response]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      buyer("b1", "s8", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s8", "c1", T("2026-11-20T10:00:30+08:00")),  // 30s, day 1
      buyer("b2", "s8", "c2", T("2026-11-21T09:00:00+08:00")),
      agent_msg("a2", "s8", "c2", T("2026-11-21T09:01:00+08:00")),  // 60s, day 2
  });
  // 1d window of 1m buckets at 09:30 day 2 covers [09:31 day 1, 09:31 day 2): both rounds
  Instant t = T("2026-11-21T09:30:00+08:00");
  auto f = h.at(t, "s8", "avg_40s");
  CHECK(f.window_rounds == 2);
  CHECK(f.average_response_seconds == Approx(45.0).margin(1e-9));
  // at 10:00 day 2 the window starts at 10:01 day 1: the 10:00 round is out
  t = T("2026-11-21T10:00:00+08:00");
  f = h.at(t, "s8", "avg_40s");
  CHECK(f.rounds == 2);
  CHECK(f.window_rounds == 1);
  CHECK(f.average_response_seconds == Approx(60.0).margin(1e-9));
}

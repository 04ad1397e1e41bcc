// Hand-worked agent_presence scenarios (docs/rules.md, "SLA kinds").
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

// SLA indices in file order: 0 online_service, 1 online_always, 2 two_online.
constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: online_service
    kind: agent_presence
    grace: 30s
    hours: service
  - name: online_always
    kind: agent_presence
  - name: two_online
    kind: agent_presence
    min_online: 2
    grace: 30s
    hours: service
)";

void check_presence_fields(const replywatch::SlaFigures& f) {
  CHECK(f.kind == replywatch::SlaKind::kAgentPresence);
  CHECK(f.rounds == 0);
  CHECK(f.window_rounds == 0);
  CHECK(f.open_rounds == 0);
  CHECK(f.warnings == 0);
  CHECK(f.compliance_ratio == 0.0);
  CHECK(f.average_response_seconds == 0.0);
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());
}

}  // namespace

TEST_CASE("engine: presence grace: back exactly at the end of grace is no breach",
          "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      status("st1", "s1", "a1", true, T("2026-11-20T10:00:00+08:00")),
      status("st2", "s1", "a1", false, T("2026-11-20T10:10:00+08:00")),
      status("st3", "s1", "a1", true, T("2026-11-20T10:10:30+08:00")),  // grace end: applied first
      status("st4", "s1", "a1", false, T("2026-11-20T10:20:00+08:00")),
      status("st5", "s1", "a1", true, T("2026-11-20T10:21:00+08:00")),
  });
  Instant t = T("2026-11-20T10:20:29.999+08:00");
  auto f = h.at(t, "s1", "online_service");
  CHECK(f.breaches == 0);
  CHECK_FALSE(f.violating);

  t = T("2026-11-20T10:20:30+08:00");
  f = h.at(t, "s1", "online_service");
  CHECK(f.breaches == 1);  // the 10:20 shortfall outlived its 30s grace
  CHECK(f.violating);      // while the incident lasts
  CHECK(f.understaffed_seconds == Approx(60.0).margin(1e-6));  // 30s + 30s so far

  t = T("2026-11-20T10:30:00+08:00");
  f = h.at(t, "s1", "online_service");
  check_presence_fields(f);
  CHECK(f.breaches == 1);
  CHECK_FALSE(f.violating);                                    // agent back at 10:21
  CHECK(f.understaffed_seconds == Approx(90.0).margin(1e-6));  // 30s + 60s
  CHECK(f.agents_online == 1);

  // grace 0: both shortfalls breach at once
  const auto a = h.fig(t, "s1", "online_always");
  check_presence_fields(a);
  CHECK(a.breaches == 2);
  CHECK(a.understaffed_seconds == Approx(90.0).margin(1e-6));

  // min_online 2 with one agent: short from the first event at 10:00 to the end
  const auto two = h.fig(t, "s1", "two_online");
  CHECK(two.breaches == 1);  // one continuous shortfall, breached at 10:00:30
  CHECK(two.violating);
  CHECK(two.understaffed_seconds == Approx(1800.0).margin(1e-6));

  const auto incidents = h.sink.incidents_for("s1", 0);
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].effect.shortfall_start == T("2026-11-20T10:20:00+08:00"));
  CHECK(incidents[0].effect.at == T("2026-11-20T10:20:30+08:00"));
  const auto two_incidents = h.sink.incidents_for("s1", 2);
  REQUIRE(two_incidents.size() == 1);
  CHECK(two_incidents[0].effect.shortfall_start == T("2026-11-20T10:00:00+08:00"));
  CHECK(two_incidents[0].effect.at == T("2026-11-20T10:00:30+08:00"));
  const auto always_incidents = h.sink.incidents_for("s1", 1);
  REQUIRE(always_incidents.size() == 2);
  CHECK(always_incidents[0].effect.at == T("2026-11-20T10:10:00+08:00"));
  CHECK(always_incidents[1].effect.at == T("2026-11-20T10:20:00+08:00"));
}

TEST_CASE("engine: presence tracking starts at the shop's first event", "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s2: first event is a buyer message with nobody online: short from 10:00 to 10:05
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      status("st1", "s2", "a1", true, T("2026-11-20T10:05:00+08:00")),
      // s3: first event puts an agent online: never short (min_online 1)
      status("st1", "s3", "a1", true, T("2026-11-20T10:00:00+08:00")),
      buyer("b1", "s3", "c1", T("2026-11-20T10:01:00+08:00")),
  });
  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  auto f = h.fig(t, "s2", "online_service");
  CHECK(f.understaffed_seconds == Approx(300.0).margin(1e-6));  // nothing before 10:00
  CHECK(f.breaches == 1);                                       // at 10:00:30
  f = h.fig(t, "s2", "online_always");
  CHECK(f.understaffed_seconds == Approx(300.0).margin(1e-6));  // not from the epoch
  CHECK(f.breaches == 1);
  const auto incidents = h.sink.incidents_for("s2", 0);
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].effect.shortfall_start == T("2026-11-20T10:00:00+08:00"));
  CHECK(incidents[0].effect.at == T("2026-11-20T10:00:30+08:00"));

  f = h.fig(t, "s3", "online_service");
  CHECK(f.understaffed_seconds == 0.0);
  CHECK(f.breaches == 0);
  f = h.fig(t, "s3", "online_always");
  CHECK(f.understaffed_seconds == 0.0);
  CHECK(f.breaches == 0);
  CHECK(f.agents_online == 1);
}

TEST_CASE("engine: presence outside hours interrupts a shortfall", "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s4: short from 22:50 (breach 22:50:30), cut at 23:00; new shortfall at 09:00
      // (breach 09:00:30)
      buyer("b1", "s4", "c1", T("2026-11-20T22:50:00+08:00")),
      // s5: short from 22:59:45, cut at 23:00 before its 30s grace: no breach that night
      buyer("b1", "s5", "c1", T("2026-11-20T22:59:45+08:00")),
  });
  Instant t = T("2026-11-20T22:55:00+08:00");
  auto f = h.at(t, "s4", "online_service");
  CHECK(f.breaches == 1);
  CHECK(f.violating);

  t = T("2026-11-21T08:00:00+08:00");
  f = h.at(t, "s4", "online_service");
  CHECK(f.breaches == 1);
  CHECK_FALSE(f.violating);                                     // the incident ended at 23:00
  CHECK(f.understaffed_seconds == Approx(600.0).margin(1e-6));  // 22:50-23:00 only
  auto s5 = h.fig(t, "s5", "online_service");
  CHECK(s5.breaches == 0);
  CHECK(s5.understaffed_seconds == Approx(15.0).margin(1e-6));

  t = T("2026-11-21T09:00:10+08:00");
  f = h.at(t, "s4", "online_service");
  CHECK(f.breaches == 1);
  CHECK_FALSE(f.violating);  // new shortfall, still within grace
  CHECK(f.understaffed_seconds == Approx(610.0).margin(1e-6));
  s5 = h.fig(t, "s5", "online_service");
  CHECK(s5.breaches == 0);
  CHECK(s5.understaffed_seconds == Approx(25.0).margin(1e-6));

  t = T("2026-11-21T09:01:00+08:00");
  f = h.at(t, "s4", "online_service");
  CHECK(f.breaches == 2);
  CHECK(f.violating);
  CHECK(f.understaffed_seconds == Approx(660.0).margin(1e-6));
  s5 = h.fig(t, "s5", "online_service");
  CHECK(s5.breaches == 1);  // the 09:00 shortfall breached at 09:00:30
  CHECK(s5.understaffed_seconds == Approx(75.0).margin(1e-6));

  const auto incidents = h.sink.incidents_for("s4", 0);
  REQUIRE(incidents.size() == 2);
  CHECK(incidents[0].effect.at == T("2026-11-20T22:50:30+08:00"));
  CHECK(incidents[1].effect.shortfall_start == T("2026-11-21T09:00:00+08:00"));
  CHECK(incidents[1].effect.at == T("2026-11-21T09:00:30+08:00"));

  // hours: always: one shortfall from 22:50 through the night to 09:01 (10h11m)
  const auto a = h.fig(t, "s4", "online_always");
  CHECK(a.breaches == 1);
  CHECK(a.violating);
  CHECK(a.understaffed_seconds == Approx(36660.0).margin(1e-6));
}

TEST_CASE("engine: presence uses the latest status per agent", "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s6: two agents; a1 goes off twice; both off only 10:07-10:07:10
      status("st1", "s6", "a1", true, T("2026-11-20T10:00:00+08:00")),
      status("st2", "s6", "a2", true, T("2026-11-20T10:00:00+08:00")),
      status("st3", "s6", "a1", false, T("2026-11-20T10:05:00+08:00")),
      status("st4", "s6", "a1", false, T("2026-11-20T10:06:00+08:00")),
      status("st5", "s6", "a2", false, T("2026-11-20T10:07:00+08:00")),
      status("st6", "s6", "a2", true, T("2026-11-20T10:07:10+08:00")),
      status("st7", "s6", "a1", true, T("2026-11-20T10:08:00+08:00")),
      // s7: one agent reporting online twice is still one agent online
      status("st1", "s7", "a1", true, T("2026-11-20T10:00:00+08:00")),
      status("st2", "s7", "a1", true, T("2026-11-20T10:01:00+08:00")),
  });
  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  auto f = h.fig(t, "s6", "online_service");
  CHECK(f.understaffed_seconds == Approx(10.0).margin(1e-6));
  CHECK(f.breaches == 0);
  CHECK(f.agents_online == 2);
  f = h.fig(t, "s6", "online_always");
  CHECK(f.understaffed_seconds == Approx(10.0).margin(1e-6));
  CHECK(f.breaches == 1);  // grace 0: at 10:07
  // fewer than 2 from 10:05 to 10:08
  f = h.fig(t, "s6", "two_online");
  CHECK(f.understaffed_seconds == Approx(180.0).margin(1e-6));
  CHECK(f.breaches == 1);
  CHECK_FALSE(f.violating);
  const auto two = h.sink.incidents_for("s6", 2);
  REQUIRE(two.size() == 1);
  CHECK(two[0].effect.shortfall_start == T("2026-11-20T10:05:00+08:00"));
  CHECK(two[0].effect.at == T("2026-11-20T10:05:30+08:00"));

  f = h.fig(t, "s7", "two_online");
  CHECK(f.agents_online == 1);
  CHECK(f.understaffed_seconds == Approx(600.0).margin(1e-6));
  CHECK(f.breaches == 1);
  CHECK(f.violating);
  f = h.fig(t, "s7", "online_service");
  CHECK(f.understaffed_seconds == 0.0);
}

TEST_CASE("engine: presence grace ending at closing time is no breach", "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  // short from 22:59:30; grace would end at 23:00:00, the first instant outside hours
  h.offer_all({buyer("b1", "s8", "c1", T("2026-11-20T22:59:30+08:00"))});
  const Instant t = T("2026-11-20T23:30:00+08:00");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "s8", "online_service");
  CHECK(f.breaches == 0);
  CHECK_FALSE(f.violating);
  CHECK(f.understaffed_seconds == Approx(30.0).margin(1e-6));
  CHECK(h.sink.incidents_for("s8", 0).empty());
}

TEST_CASE("engine: presence: a late status never undoes a counted incident", "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  h.replay({
      status("st1", "s9", "a1", true, T("2026-11-20T10:00:00+08:00")),
      status("st2", "s9", "a1", false, T("2026-11-20T10:10:00+08:00")),
      // moves the watermark to 10:11:00: the incident at 10:10:30 has been counted
      buyer("b1", "s9", "c1", T("2026-11-20T10:11:02+08:00")),
  });
  CHECK(h.fig(T("2026-11-20T10:11:00+08:00"), "s9", "online_service").breaches == 1);
  // a1 came back at 10:10:20 (within grace), reported late
  const auto result =
      h.engine.offer(status("st3", "s9", "a1", true, T("2026-11-20T10:10:20+08:00")));
  CHECK(result.late);
  const Instant t = T("2026-11-20T10:20:00+08:00");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "s9", "online_service");
  CHECK(f.breaches == 1);    // decided outcomes stay
  CHECK_FALSE(f.violating);  // an agent is online now
  CHECK(f.agents_online == 1);
  CHECK(h.engine.counters().late == 1);
}

TEST_CASE("engine: presence: a late offline status takes effect at the watermark",
          "[engine][presence]") {
  Harness h(rules_from_yaml(kYaml));
  // a1 online 08:00; buyers at 10:00 and 12:00 move time on. a1's offline status of 08:59
  // arrives late, after the 10:00 buyer moved the watermark to 09:59:58. Applied at once, it
  // takes effect then: the instants before were already accounted for with a1 online. Shortfall
  // 09:59:58-12:00 (7202 s), incident at 10:00:28.
  h.replay({
      status("st1", "s1", "a1", true, T("2026-11-20T08:00:00+08:00")),
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      status("st2", "s1", "a1", false, T("2026-11-20T08:59:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T12:00:00+08:00")),
  });
  const Instant until = T("2026-11-20T12:00:00+08:00");
  const auto f = h.at(until, "s1", "online_service");
  CHECK(f.breaches == 1);
  CHECK(f.understaffed_seconds == 7202.0);
  const auto incidents = h.sink.incidents_for("s1", 0);
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].effect.at == T("2026-11-20T10:00:28+08:00"));
  CHECK(f.violating);
  CHECK(h.engine.counters().late == 1);
}

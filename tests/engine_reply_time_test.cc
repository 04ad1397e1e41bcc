// Hand-worked reply_time scenarios (docs/rules.md, "SLA kinds").
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

constexpr const char* kAlwaysYaml = R"(
platform: tmall
timezone: Asia/Shanghai
replies:
  counted_bots: [leyan]
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
)";

constexpr const char* kDeferYaml = R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: defer_3m
    kind: reply_time
    deadline: 3m
    hours: service
    outside_hours: defer
  - name: defer_warn
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    hours: service
)";

}  // namespace

TEST_CASE("engine: reply exactly at the deadline is met", "[engine][reply_time]") {
  Harness h(rules_from_yaml(kAlwaysYaml));
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:03:00+08:00"))});
  const auto f = h.at(T("2026-11-20T10:10:00+08:00"), "s1", "reply_3m");
  CHECK(f.kind == replywatch::SlaKind::kReplyTime);
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 0);  // the reply at the deadline instant is applied before the deadline
  CHECK(f.open_rounds == 0);
  CHECK(f.window_rounds == 1);
  CHECK(f.compliance_ratio == 1.0);                          // 1 met of 1
  CHECK_FALSE(f.error_budget_remaining_rounds.has_value());  // no objective
  CHECK_FALSE(f.violating);
  CHECK(f.average_response_seconds == 0.0);  // not for reply_time
  CHECK(f.understaffed_seconds == 0.0);
  REQUIRE(h.sink.decided.size() == 1);
  const auto& d = h.sink.decided[0].effect;
  CHECK(d.start == T("2026-11-20T10:00:00+08:00"));
  CHECK(d.at == T("2026-11-20T10:03:00+08:00"));  // decided at the answer
  CHECK(d.answered);
  CHECK(d.met);
  CHECK(d.elapsed == mins(3));
}

TEST_CASE("engine: reply 1 ms after the deadline is a breach counted at the deadline",
          "[engine][reply_time]") {
  Harness h(rules_from_yaml(kAlwaysYaml));
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:03:00.001+08:00"))});
  // at the deadline the reply (1 ms later) is not applied yet, but the breach already counts
  auto f = h.at(T("2026-11-20T10:03:00+08:00"), "s1", "reply_3m");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 1);
  CHECK(f.open_rounds == 0);  // decided, though still unanswered
  CHECK(f.window_rounds == 1);
  CHECK(f.compliance_ratio == 0.0);  // 0 met of 1
  REQUIRE(h.sink.decided.size() == 1);
  const auto& d = h.sink.decided[0].effect;
  CHECK(d.at == T("2026-11-20T10:03:00+08:00"));
  CHECK_FALSE(d.answered);
  CHECK_FALSE(d.met);
  CHECK(d.elapsed == mins(3));  // the deadline for unanswered rounds
  // the late reply changes nothing
  f = h.at(T("2026-11-20T10:10:00+08:00"), "s1", "reply_3m");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 1);
  CHECK(f.open_rounds == 0);
  CHECK(h.sink.decided.size() == 1);
}

TEST_CASE("engine: a deadline fires at its instant, not before", "[engine][reply_time]") {
  Harness h(rules_from_yaml(kAlwaysYaml));
  h.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")));
  // advance applies what is strictly before the watermark: the deadline at 10:03:00 waits
  h.engine.advance(T("2026-11-20T10:03:00+08:00"));
  auto f = h.fig(T("2026-11-20T10:03:00+08:00"), "s1", "reply_3m");
  CHECK(f.rounds == 0);
  CHECK(f.open_rounds == 1);
  CHECK(f.breaches == 0);
  REQUIRE(f.oldest_open_start.has_value());
  CHECK(*f.oldest_open_start == T("2026-11-20T10:00:00+08:00"));
  h.engine.advance(T("2026-11-20T10:03:00.001+08:00"));
  f = h.fig(T("2026-11-20T10:03:00.001+08:00"), "s1", "reply_3m");
  CHECK(f.rounds == 1);
  CHECK(f.open_rounds == 0);
  CHECK(f.breaches == 1);
  CHECK_FALSE(f.oldest_open_start.has_value());
}

TEST_CASE("engine: further buyer messages do not restart an open round", "[engine][reply_time]") {
  Harness h(rules_from_yaml(kAlwaysYaml));
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               buyer("b2", "s1", "c1", T("2026-11-20T10:02:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:04:00+08:00"))});
  const auto f = h.at(T("2026-11-20T10:10:00+08:00"), "s1", "reply_3m");
  CHECK(f.rounds == 1);    // one round, started 10:00
  CHECK(f.breaches == 1);  // due 10:03, the 10:02 message did not move it
  REQUIRE(h.sink.decided.size() == 1);
  CHECK(h.sink.decided[0].effect.start == T("2026-11-20T10:00:00+08:00"));
}

TEST_CASE("engine: reply views: counted bots, the platform bot and unlisted bots",
          "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
replies:
  counted_bots: [leyan]
slas:
  - name: counted_3m
    kind: reply_time
    deadline: 3m
  - name: human_3m
    kind: reply_time
    replies: human
    deadline: 3m
)"));
  h.offer_all({
      // s1: leyan answers the counted view; the agent at 10:05 is too late for the human view
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      bot_msg("l1", "s1", "c1", T("2026-11-20T10:01:00+08:00"), "leyan"),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:05:00+08:00")),
      // s2: the marketplace's own bot answers nothing
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      bot_msg("p1", "s2", "c1", T("2026-11-20T10:01:00+08:00"), "platform"),
      // s3: a bot not in counted_bots answers nothing
      buyer("b1", "s3", "c1", T("2026-11-20T10:00:00+08:00")),
      bot_msg("x1", "s3", "c1", T("2026-11-20T10:01:00+08:00"), "xiaoduo"),
      // s4: after leyan answers, 10:02 starts a new counted round; the human round stays open
      buyer("b1", "s4", "c1", T("2026-11-20T10:00:00+08:00")),
      bot_msg("l1", "s4", "c1", T("2026-11-20T10:01:00+08:00"), "leyan"),
      buyer("b2", "s4", "c1", T("2026-11-20T10:02:00+08:00")),
      agent_msg("a1", "s4", "c1", T("2026-11-20T10:04:00+08:00")),
      // s5: an agent answers both views
      buyer("b1", "s5", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s5", "c1", T("2026-11-20T10:01:00+08:00")),
      // s6: conversation_closed answers nothing
      buyer("b1", "s6", "c1", T("2026-11-20T10:00:00+08:00")),
      closed("x1", "s6", "c1", T("2026-11-20T10:01:00+08:00")),
  });
  h.engine.advance_through(T("2026-11-20T10:30:00+08:00"));
  const Instant until = T("2026-11-20T10:30:00+08:00");

  // s1: counted met by leyan after 1m; human breached at 10:03
  CHECK(h.fig(until, "s1", "counted_3m").rounds == 1);
  CHECK(h.fig(until, "s1", "counted_3m").breaches == 0);
  CHECK(h.fig(until, "s1", "human_3m").rounds == 1);
  CHECK(h.fig(until, "s1", "human_3m").breaches == 1);
  REQUIRE(h.sink.decided_for("s1", 0).size() == 1);
  CHECK(h.sink.decided_for("s1", 0)[0].effect.elapsed == mins(1));
  REQUIRE(h.sink.decided_for("s1", 1).size() == 1);
  CHECK(h.sink.decided_for("s1", 1)[0].effect.at == T("2026-11-20T10:03:00+08:00"));

  // s2 and s3: neither bot counts in either view: both breached at 10:03
  for (const char* shop : {"s2", "s3"}) {
    INFO(shop);
    CHECK(h.fig(until, shop, "counted_3m").rounds == 1);
    CHECK(h.fig(until, shop, "counted_3m").breaches == 1);
    CHECK(h.fig(until, shop, "human_3m").rounds == 1);
    CHECK(h.fig(until, shop, "human_3m").breaches == 1);
    CHECK(h.fig(until, shop, "counted_3m").open_rounds == 0);
  }

  // s4: counted rounds 10:00 (met 1m) and 10:02 (met 2m by the agent); human round 10:00 only,
  // breached at 10:03
  CHECK(h.fig(until, "s4", "counted_3m").rounds == 2);
  CHECK(h.fig(until, "s4", "counted_3m").breaches == 0);
  CHECK(h.fig(until, "s4", "human_3m").rounds == 1);
  CHECK(h.fig(until, "s4", "human_3m").breaches == 1);
  const auto s4_counted = h.sink.decided_for("s4", 0);
  REQUIRE(s4_counted.size() == 2);
  CHECK(s4_counted[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK(s4_counted[0].effect.elapsed == mins(1));
  CHECK(s4_counted[1].effect.start == T("2026-11-20T10:02:00+08:00"));
  CHECK(s4_counted[1].effect.elapsed == mins(2));
  const auto s4_human = h.sink.decided_for("s4", 1);
  REQUIRE(s4_human.size() == 1);
  CHECK(s4_human[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK_FALSE(s4_human[0].effect.answered);

  // s5: both views met after 1m
  CHECK(h.fig(until, "s5", "counted_3m").breaches == 0);
  CHECK(h.fig(until, "s5", "human_3m").breaches == 0);
  REQUIRE(h.sink.decided_for("s5", 1).size() == 1);
  CHECK(h.sink.decided_for("s5", 1)[0].effect.elapsed == mins(1));

  // s6: closing the conversation does not answer or close the round
  CHECK(h.fig(until, "s6", "counted_3m").rounds == 1);
  CHECK(h.fig(until, "s6", "counted_3m").breaches == 1);
  CHECK(h.fig(until, "s6", "human_3m").breaches == 1);
}

TEST_CASE("engine: rounds first scores only the session's first round", "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: first_3m
    kind: reply_time
    rounds: first
    deadline: 3m
  - name: every_3m
    kind: reply_time
    rounds: every
    deadline: 3m
)"));
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
               buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00"))});
  const Instant until = T("2026-11-20T10:20:00+08:00");
  h.engine.advance_through(until);
  // first round met; the 10:05 round (same session, 4m after the last event) is not scored
  CHECK(h.fig(until, "s1", "first_3m").rounds == 1);
  CHECK(h.fig(until, "s1", "first_3m").breaches == 0);
  CHECK(h.fig(until, "s1", "first_3m").open_rounds == 0);
  // every: the 10:05 round breaches at 10:08
  CHECK(h.fig(until, "s1", "every_3m").rounds == 2);
  CHECK(h.fig(until, "s1", "every_3m").breaches == 1);
}

TEST_CASE("engine: defer runs the clock on business time across closing", "[engine][reply_time]") {
  Harness h(rules_from_yaml(kDeferYaml));
  h.offer_all({
      // s1: 22:57 + 3m of open time is due 23:00:00; the reply then is met
      buyer("b1", "s1", "c1", T("2026-11-20T22:57:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T23:00:00+08:00")),
      // s2: the same 1 ms later: breach at 23:00:00
      buyer("b1", "s2", "c1", T("2026-11-20T22:57:00+08:00")),
      agent_msg("a1", "s2", "c1", T("2026-11-20T23:00:00.001+08:00")),
      // s3: 22:59 is due 09:02 the next day; a reply at 09:01:59 is met after 1m + 1m59s
      buyer("b1", "s3", "c1", T("2026-11-20T22:59:00+08:00")),
      agent_msg("a1", "s3", "c1", T("2026-11-21T09:01:59+08:00")),
      // s4: 22:59 with no reply breaches at 09:02 the next day
      buyer("b1", "s4", "c1", T("2026-11-20T22:59:00+08:00")),
      // s5: started at 03:00 while closed, answered at 08:00: no business time elapsed
      buyer("b1", "s5", "c1", T("2026-11-21T03:00:00+08:00")),
      agent_msg("a1", "s5", "c1", T("2026-11-21T08:00:00+08:00")),
  });

  Instant t = T("2026-11-21T09:01:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "defer_3m").rounds == 1);
  CHECK(h.fig(t, "s1", "defer_3m").breaches == 0);
  CHECK(h.fig(t, "s2", "defer_3m").rounds == 1);
  CHECK(h.fig(t, "s2", "defer_3m").breaches == 1);
  CHECK(h.fig(t, "s3", "defer_3m").breaches == 0);
  CHECK(h.fig(t, "s4", "defer_3m").rounds == 0);  // due 09:02, not yet
  CHECK(h.fig(t, "s4", "defer_3m").open_rounds == 1);
  CHECK(h.fig(t, "s5", "defer_3m").rounds == 1);
  CHECK(h.fig(t, "s5", "defer_3m").breaches == 0);

  t = T("2026-11-21T09:02:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s4", "defer_3m").rounds == 1);
  CHECK(h.fig(t, "s4", "defer_3m").breaches == 1);
  CHECK(h.fig(t, "s4", "defer_3m").open_rounds == 0);

  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 1);
  CHECK(s1[0].effect.met);
  CHECK(s1[0].effect.elapsed == mins(3));
  CHECK(s1[0].effect.at == T("2026-11-20T23:00:00+08:00"));
  const auto s2 = h.sink.decided_for("s2", 0);
  REQUIRE(s2.size() == 1);
  CHECK_FALSE(s2[0].effect.met);
  CHECK(s2[0].effect.at == T("2026-11-20T23:00:00+08:00"));  // at the deadline, not next morning
  const auto s3 = h.sink.decided_for("s3", 0);
  REQUIRE(s3.size() == 1);
  CHECK(s3[0].effect.met);
  CHECK(s3[0].effect.elapsed == ms(179'000));  // 1m before closing + 1m59s after opening
  const auto s4 = h.sink.decided_for("s4", 0);
  REQUIRE(s4.size() == 1);
  CHECK_FALSE(s4[0].effect.answered);
  CHECK(s4[0].effect.at == T("2026-11-21T09:02:00+08:00"));
  CHECK(s4[0].effect.elapsed == mins(3));
  const auto s5 = h.sink.decided_for("s5", 0);
  REQUIRE(s5.size() == 1);
  CHECK(s5[0].effect.met);
  CHECK(s5[0].effect.elapsed == ms(0));  // closed the whole time

  // warnings on business time: s4 is warned at elapsed 2m = 09:01 next day, due 09:02
  const auto w4 = h.sink.warnings_for("s4", 1);
  REQUIRE(w4.size() == 1);
  CHECK(w4[0].effect.start == T("2026-11-20T22:59:00+08:00"));
  CHECK(w4[0].effect.at == T("2026-11-21T09:01:00+08:00"));
  CHECK(w4[0].effect.due == T("2026-11-21T09:02:00+08:00"));
  // s1: warned at 22:59 (1m of open time left), answered at 23:00
  const auto w1 = h.sink.warnings_for("s1", 1);
  REQUIRE(w1.size() == 1);
  CHECK(w1[0].effect.at == T("2026-11-20T22:59:00+08:00"));
  CHECK(w1[0].effect.due == T("2026-11-20T23:00:00+08:00"));
  // s5 was answered before any open time passed: no warning
  CHECK(h.sink.warnings_for("s5", 1).empty());
  CHECK(h.fig(t, "s4", "defer_warn").warnings == 1);
  CHECK(h.fig(t, "s5", "defer_warn").warnings == 0);
}

TEST_CASE("engine: defer across a closed override day", "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
  overrides:
    - date: "2026-11-21"
      closed: true
slas:
  - name: defer_3m
    kind: reply_time
    deadline: 3m
    hours: service
)"));
  h.offer_all({
      // s1: 1m on the 20th, nothing on the closed 21st, due 09:02 on the 22nd
      buyer("b1", "s1", "c1", T("2026-11-20T22:59:00+08:00")),
      // s2: answered during the closed day after 1m of business time
      buyer("b1", "s2", "c1", T("2026-11-20T22:59:00+08:00")),
      agent_msg("a1", "s2", "c1", T("2026-11-21T15:00:00+08:00")),
  });
  Instant t = T("2026-11-22T09:01:59.999+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "defer_3m").breaches == 0);
  CHECK(h.fig(t, "s1", "defer_3m").open_rounds == 1);
  CHECK(h.fig(t, "s2", "defer_3m").rounds == 1);
  CHECK(h.fig(t, "s2", "defer_3m").breaches == 0);
  t = T("2026-11-22T09:02:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "defer_3m").breaches == 1);
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 1);
  CHECK(s1[0].effect.at == T("2026-11-22T09:02:00+08:00"));
  const auto s2 = h.sink.decided_for("s2", 0);
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].effect.elapsed == mins(1));
  CHECK(s2[0].effect.at == T("2026-11-21T15:00:00+08:00"));
}

TEST_CASE("engine: exclude skips rounds started outside hours but they still exist",
          "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: excl_3m
    kind: reply_time
    deadline: 3m
    hours: service
    outside_hours: exclude
)"));
  h.offer_all({
      // s1: round started 08:58 (closed) is not scored; the 09:01 message adds nothing to it
      // (no new scored round that would breach at 09:04); the 09:10 reply answers it
      buyer("b1", "s1", "c1", T("2026-11-20T08:58:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T09:01:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T09:10:00+08:00")),
      // then a scored round at 09:20, met after 1m
      buyer("b3", "s1", "c1", T("2026-11-20T09:20:00+08:00")),
      agent_msg("a2", "s1", "c1", T("2026-11-20T09:21:00+08:00")),
      // s2: started 22:58 inside hours: its clock is wall time, due 23:01 (not next morning)
      buyer("b1", "s2", "c1", T("2026-11-20T22:58:00+08:00")),
      // s3: started 23:30, outside hours, never answered: never scored
      buyer("b1", "s3", "c1", T("2026-11-20T23:30:00+08:00")),
  });
  const Instant until = T("2026-11-21T10:00:00+08:00");
  h.engine.advance_through(until);
  const auto s1 = h.fig(until, "s1", "excl_3m");
  CHECK(s1.rounds == 1);
  CHECK(s1.breaches == 0);
  CHECK(s1.open_rounds == 0);
  const auto s1_decided = h.sink.decided_for("s1", 0);
  REQUIRE(s1_decided.size() == 1);
  CHECK(s1_decided[0].effect.start == T("2026-11-20T09:20:00+08:00"));
  CHECK(s1_decided[0].effect.elapsed == mins(1));

  const auto s2 = h.fig(until, "s2", "excl_3m");
  CHECK(s2.rounds == 1);
  CHECK(s2.breaches == 1);
  const auto s2_decided = h.sink.decided_for("s2", 0);
  REQUIRE(s2_decided.size() == 1);
  CHECK(s2_decided[0].effect.at == T("2026-11-20T23:01:00+08:00"));

  const auto s3 = h.fig(until, "s3", "excl_3m");
  CHECK(s3.rounds == 0);
  CHECK(s3.breaches == 0);
  CHECK(s3.open_rounds == 0);  // open_rounds counts scored rounds only
}

TEST_CASE("engine: warnings are raised once per round and at risk until decided",
          "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: warn_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
)"));
  h.offer_all({
      // c1: never answered: warned at 10:02, breached at 10:03; the 10:02:10 message changes
      // nothing
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:02:10+08:00")),
      // c2: answered exactly at the warning point: the reply is applied first, no warning
      buyer("b3", "s1", "c2", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a3", "s1", "c2", T("2026-11-20T10:02:00+08:00")),
      // c3: warned at 10:02, met at 10:02:30
      buyer("b4", "s1", "c3", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a4", "s1", "c3", T("2026-11-20T10:02:30+08:00")),
  });
  Instant t = T("2026-11-20T10:01:59.999+08:00");
  auto f = h.at(t, "s1", "warn_3m");
  CHECK(f.warnings == 0);
  CHECK(f.at_risk_rounds == 0);
  CHECK(f.open_rounds == 3);

  t = T("2026-11-20T10:02:00+08:00");
  f = h.at(t, "s1", "warn_3m");
  CHECK(f.warnings == 2);  // c1 and c3
  CHECK(f.at_risk_rounds == 2);
  CHECK(f.open_rounds == 2);
  CHECK(f.rounds == 1);  // c2 met

  t = T("2026-11-20T10:02:30+08:00");
  f = h.at(t, "s1", "warn_3m");
  CHECK(f.warnings == 2);
  CHECK(f.at_risk_rounds == 1);  // c3 decided
  CHECK(f.open_rounds == 1);

  t = T("2026-11-20T10:03:00+08:00");
  f = h.at(t, "s1", "warn_3m");
  CHECK(f.warnings == 2);
  CHECK(f.at_risk_rounds == 0);  // c1 decided (breached)
  CHECK(f.open_rounds == 0);
  CHECK(f.rounds == 3);
  CHECK(f.breaches == 1);

  f = h.at(T("2026-11-20T10:30:00+08:00"), "s1", "warn_3m");
  CHECK(f.warnings == 2);
  REQUIRE(h.sink.warnings.size() == 2);
  for (const auto& w : h.sink.warnings) {
    CHECK(w.effect.start == T("2026-11-20T10:00:00+08:00"));
    CHECK(w.effect.at == T("2026-11-20T10:02:00+08:00"));
    CHECK(w.effect.due == T("2026-11-20T10:03:00+08:00"));
  }
}

TEST_CASE("engine: wall time is exact across a DST change", "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: America/Los_Angeles
slas:
  - name: reply_1d
    kind: reply_time
    deadline: 1d
)"));
  // 12:00 PST on 2026-03-07 + 86 400 000 ms = 13:00 PDT on 2026-03-08 (20:00Z both)
  h.offer_all({buyer("b1", "s1", "c1", T("2026-03-07T20:00:00Z"))});
  auto f = h.at(T("2026-03-08T19:59:59.999Z"), "s1", "reply_1d");
  CHECK(f.breaches == 0);
  f = h.at(T("2026-03-08T20:00:00Z"), "s1", "reply_1d");
  CHECK(f.breaches == 1);
  REQUIRE(h.sink.decided.size() == 1);
  CHECK(h.sink.decided[0].effect.at == T("2026-03-08T20:00:00Z"));
}

TEST_CASE("engine: service hours bounds are half-open for round starts", "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: defer_3m
    kind: reply_time
    deadline: 3m
    hours: service
  - name: excl_3m
    kind: reply_time
    deadline: 3m
    hours: service
    outside_hours: exclude
)"));
  h.offer_all({
      // s1: started at 23:00:00, the closing instant: outside hours
      buyer("b1", "s1", "c1", T("2026-11-20T23:00:00+08:00")),
      // s2: started at 09:00:00, the opening instant: inside hours
      buyer("b1", "s2", "c1", T("2026-11-21T09:00:00+08:00")),
      // s3: started 1 ms before closing: inside; defer leaves 1 ms that evening
      buyer("b1", "s3", "c1", T("2026-11-20T22:59:59.999+08:00")),
  });
  const Instant t = T("2026-11-21T12:00:00+08:00");
  h.engine.advance_through(t);
  // defer: s1's clock starts at 09:00, due 09:03
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 1);
  CHECK(s1[0].effect.at == T("2026-11-21T09:03:00+08:00"));
  CHECK(h.fig(t, "s1", "excl_3m").rounds == 0);  // not scored
  CHECK(h.fig(t, "s1", "excl_3m").breaches == 0);
  // s2: scored by both, due 09:03
  CHECK(h.fig(t, "s2", "excl_3m").rounds == 1);
  CHECK(h.fig(t, "s2", "excl_3m").breaches == 1);
  const auto s2 = h.sink.decided_for("s2", 1);
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].effect.at == T("2026-11-21T09:03:00+08:00"));
  // s3: 1 ms + 2m59.999s: due 09:02:59.999 under defer, 23:02:59.999 under exclude
  const auto s3_defer = h.sink.decided_for("s3", 0);
  REQUIRE(s3_defer.size() == 1);
  CHECK(s3_defer[0].effect.at == T("2026-11-21T09:02:59.999+08:00"));
  const auto s3_excl = h.sink.decided_for("s3", 1);
  REQUIRE(s3_excl.size() == 1);
  CHECK(s3_excl[0].effect.at == T("2026-11-20T23:02:59.999+08:00"));
}

TEST_CASE("engine: warnings and decisions name their conversation", "[engine][reply_time]") {
  Harness h(rules_from_yaml(kDeferYaml));
  h.offer_all({buyer("b1", "s1", "conv-1", T("2026-11-20T10:00:00+08:00")),
               buyer("b2", "s1", "conv-2", T("2026-11-20T10:01:00+08:00"))});
  h.at(T("2026-11-20T10:10:00+08:00"), "s1", "defer_warn");
  REQUIRE(h.sink.warnings.size() == 2);
  CHECK(h.sink.warnings[0].conversation == "conv-1");
  CHECK(h.sink.warnings[1].conversation == "conv-2");
  REQUIRE(h.sink.decided.size() == 4);  // two SLAs, two rounds, all breached
  CHECK(h.sink.decided[0].conversation == "conv-1");
  CHECK(h.sink.decided[3].conversation == "conv-2");
  CHECK(h.sink.ended.empty());  // breached but unanswered: still open
}

TEST_CASE("engine: an answer ends the round once per SLA scoring it, decided or not",
          "[engine][reply_time]") {
  Harness h(rules_from_yaml(kDeferYaml));
  // defer_warn breaches at 10:03; the reply at 10:04 still ends the round for both SLAs.
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:04:00+08:00")),
               buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00")),
               agent_msg("a2", "s1", "c1", T("2026-11-20T10:05:30+08:00"))});
  h.at(T("2026-11-20T10:10:00+08:00"), "s1", "defer_3m");
  REQUIRE(h.sink.ended.size() == 4);
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(i);
    CHECK(h.sink.ended[i].conversation == "c1");
    CHECK(h.sink.ended[i].sla == i);
    CHECK(h.sink.ended[i].effect.start == T("2026-11-20T10:00:00+08:00"));
    CHECK(h.sink.ended[i].effect.at == T("2026-11-20T10:04:00+08:00"));
    CHECK_FALSE(h.sink.ended[i].effect.retired);
  }
  CHECK(h.sink.ended[2].effect.start == T("2026-11-20T10:05:00+08:00"));
  CHECK(h.sink.ended[3].effect.at == T("2026-11-20T10:05:30+08:00"));
}

TEST_CASE("engine: a round no SLA scores ends without an effect", "[engine][reply_time]") {
  Harness h(rules_from_yaml(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: first_only
    kind: reply_time
    rounds: first
    deadline: 3m
)"));
  h.offer_all({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
               agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
               buyer("b2", "s1", "c1", T("2026-11-20T10:02:00+08:00")),
               agent_msg("a2", "s1", "c1", T("2026-11-20T10:02:30+08:00"))});
  h.at(T("2026-11-20T10:10:00+08:00"), "s1", "first_only");
  REQUIRE(h.sink.ended.size() == 1);  // the second round is not a first round
  CHECK(h.sink.ended[0].effect.at == T("2026-11-20T10:01:00+08:00"));
}

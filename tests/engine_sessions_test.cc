// Hand-worked session scenarios (docs/rules.md, "Sessions"), seen through rounds: first SLAs.
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

// SLA indices in file order: 0 first_counted, 1 every_counted, 2 first_human.
constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
sessions:
  idle_timeout: 30m
replies:
  counted_bots: [leyan]
slas:
  - name: first_counted
    kind: reply_time
    rounds: first
    deadline: 3m
  - name: every_counted
    kind: reply_time
    rounds: every
    deadline: 3m
  - name: first_human
    kind: reply_time
    rounds: first
    replies: human
    deadline: 3m
)";

}  // namespace

TEST_CASE("engine: sessions: idle longer than idle_timeout starts a new session",
          "[engine][sessions]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s1: 30m00.001s after the last event: a new session, so a new first round
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:31:00.001+08:00")),
      agent_msg("a2", "s1", "c1", T("2026-11-20T10:32:00+08:00")),
      // s2: exactly 30m after the last event is not more than idle_timeout: same session
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s2", "c1", T("2026-11-20T10:01:00+08:00")),
      buyer("b2", "s2", "c1", T("2026-11-20T10:31:00+08:00")),
      agent_msg("a2", "s2", "c1", T("2026-11-20T10:32:00+08:00")),
      // s3: a platform-bot message at 10:20 is an event of the conversation: 10:45 is 25m after
      // it, so the same session
      buyer("b1", "s3", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s3", "c1", T("2026-11-20T10:01:00+08:00")),
      bot_msg("p1", "s3", "c1", T("2026-11-20T10:20:00+08:00"), "platform"),
      buyer("b2", "s3", "c1", T("2026-11-20T10:45:00+08:00")),
      agent_msg("a2", "s3", "c1", T("2026-11-20T10:46:00+08:00")),
      // s4: agent_status belongs to no conversation: 10:45 is 44m after the conversation's
      // last event, so a new session
      buyer("b1", "s4", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s4", "c1", T("2026-11-20T10:01:00+08:00")),
      status("st1", "s4", "a1", true, T("2026-11-20T10:20:00+08:00")),
      buyer("b2", "s4", "c1", T("2026-11-20T10:45:00+08:00")),
      agent_msg("a2", "s4", "c1", T("2026-11-20T10:46:00+08:00")),
      // s5: another conversation's events do not keep c1's session alive
      buyer("b1", "s5", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s5", "c1", T("2026-11-20T10:01:00+08:00")),
      buyer("b2", "s5", "c2", T("2026-11-20T10:20:00+08:00")),
      agent_msg("a2", "s5", "c2", T("2026-11-20T10:21:00+08:00")),
      buyer("b3", "s5", "c1", T("2026-11-20T10:45:00+08:00")),
      agent_msg("a3", "s5", "c1", T("2026-11-20T10:46:00+08:00")),
  });
  const Instant until = T("2026-11-20T12:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s2", "first_counted").rounds == 1);
  CHECK(h.fig(until, "s3", "first_counted").rounds == 1);
  CHECK(h.fig(until, "s4", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s5", "first_counted").rounds == 3);  // c1 twice, c2 once
  for (const char* shop : {"s1", "s2", "s3", "s4"}) {
    INFO(shop);
    CHECK(h.fig(until, shop, "every_counted").rounds == 2);
    CHECK(h.fig(until, shop, "every_counted").breaches == 0);
    CHECK(h.fig(until, shop, "first_counted").breaches == 0);
    CHECK(h.fig(until, shop, "first_counted").open_rounds == 0);
  }
  const auto s2 = h.sink.decided_for("s2", 0);
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 2);
  CHECK(s1[1].effect.start == T("2026-11-20T10:31:00.001+08:00"));
}

TEST_CASE("engine: sessions: conversation_closed starts a new session", "[engine][sessions]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s1: closed at 10:02, so the 10:03 message opens a new first round (never answered)
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
      closed("x1", "s1", "c1", T("2026-11-20T10:02:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:03:00+08:00")),
      // s2: the same without the close: 10:03 is a second round of the same session
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s2", "c1", T("2026-11-20T10:01:00+08:00")),
      buyer("b2", "s2", "c1", T("2026-11-20T10:03:00+08:00")),
  });
  const Instant until = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s1", "first_counted").breaches == 1);  // 10:03 round due 10:06
  CHECK(h.fig(until, "s2", "first_counted").rounds == 1);
  CHECK(h.fig(until, "s2", "first_counted").breaches == 0);
  CHECK(h.fig(until, "s2", "every_counted").rounds == 2);
  CHECK(h.fig(until, "s2", "every_counted").breaches == 1);
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 2);
  CHECK(s1[1].effect.start == T("2026-11-20T10:03:00+08:00"));
  CHECK(s1[1].effect.at == T("2026-11-20T10:06:00+08:00"));
}

TEST_CASE("engine: sessions: a decided round is retired by a new session, which starts its own",
          "[engine][sessions]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // s1: round 10:00 never answered (breached 10:03 by all three SLAs); closed at 10:05; 10:06
      // begins a new session, which retires it and starts a first round, answered at 10:07; 10:08
      // is the same session's second round, breached 10:11 by every_counted only
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      closed("x1", "s1", "c1", T("2026-11-20T10:05:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:06:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:07:00+08:00")),
      buyer("b3", "s1", "c1", T("2026-11-20T10:08:00+08:00")),
      // s2: the same through idleness: 11:00 is 60m after 10:00, a new first round, answered at
      // 11:01; 11:02 is not first
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      buyer("b2", "s2", "c1", T("2026-11-20T11:00:00+08:00")),
      agent_msg("a1", "s2", "c1", T("2026-11-20T11:01:00+08:00")),
      buyer("b3", "s2", "c1", T("2026-11-20T11:02:00+08:00")),
      agent_msg("a2", "s2", "c1", T("2026-11-20T11:03:00+08:00")),
  });
  const Instant until = T("2026-11-20T12:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s1", "first_counted").breaches == 1);
  CHECK(h.fig(until, "s1", "every_counted").rounds == 3);
  CHECK(h.fig(until, "s1", "every_counted").breaches == 2);
  CHECK(h.fig(until, "s1", "first_human").rounds == 2);
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 2);
  CHECK(s1[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK(s1[1].effect.start == T("2026-11-20T10:06:00+08:00"));
  CHECK(s1[1].effect.met);

  CHECK(h.fig(until, "s2", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s2", "first_counted").breaches == 1);  // only the 10:00 round
  CHECK(h.fig(until, "s2", "every_counted").rounds == 3);
  const auto s2 = h.sink.decided_for("s2", 0);
  REQUIRE(s2.size() == 2);
  CHECK(s2[1].effect.start == T("2026-11-20T11:00:00+08:00"));
  CHECK(s2[1].effect.met);
}

TEST_CASE("engine: sessions are shared by both views", "[engine][sessions]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // counted: A 10:00 met by leyan 10:01; 10:40 is 39m idle: new session, B first, met 10:41;
      // C at 10:42 is not first and breaches 10:45.
      // human: H1 10:00 breached 10:03, every human SLA has decided it, so the new session at
      // 10:40 retires it and starts H2, the session's first human round, met at 10:41; H3 at
      // 10:42 is not first.
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      bot_msg("l1", "s1", "c1", T("2026-11-20T10:01:00+08:00"), "leyan"),
      buyer("b2", "s1", "c1", T("2026-11-20T10:40:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:41:00+08:00")),
      buyer("b3", "s1", "c1", T("2026-11-20T10:42:00+08:00")),
  });
  const Instant until = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_counted").rounds == 2);
  CHECK(h.fig(until, "s1", "first_counted").breaches == 0);
  CHECK(h.fig(until, "s1", "every_counted").rounds == 3);
  CHECK(h.fig(until, "s1", "every_counted").breaches == 1);
  CHECK(h.fig(until, "s1", "first_human").rounds == 2);
  CHECK(h.fig(until, "s1", "first_human").breaches == 1);
  const auto counted = h.sink.decided_for("s1", 0);
  REQUIRE(counted.size() == 2);
  CHECK(counted[1].effect.start == T("2026-11-20T10:40:00+08:00"));
  CHECK(counted[1].effect.elapsed == mins(1));
  const auto human = h.sink.decided_for("s1", 2);
  REQUIRE(human.size() == 2);
  CHECK(human[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK(human[1].effect.start == T("2026-11-20T10:40:00+08:00"));
  CHECK(human[1].effect.at == T("2026-11-20T10:41:00+08:00"));
  CHECK(human[1].effect.met);
}

TEST_CASE("engine: sessions: a late buyer message keeps the session of its conversation",
          "[engine][sessions]") {
  Harness h(rules_from_yaml(kYaml));
  // replay drive, lateness 2s
  h.replay({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
      // another conversation moves time on to 10:40:58
      buyer("x1", "s1", "c2", T("2026-11-20T10:40:00+08:00")),
      agent_msg("x2", "s1", "c2", T("2026-11-20T10:41:00+08:00")),
  });
  // c1's buyer writes again at 10:05, reported late: 4m after c1's previous event (10:01), so
  // not a new session and not a first round; as an every-round it breaches at 10:08
  const auto result = h.engine.offer(buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00")));
  CHECK(result.late);
  const Instant t = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "first_counted").rounds == 2);  // c1 10:00 and c2 10:40
  CHECK(h.fig(t, "s1", "every_counted").rounds == 3);
  CHECK(h.fig(t, "s1", "every_counted").breaches == 1);
  const auto first = h.sink.decided_for("s1", 0);
  CHECK(first.size() == 2);
  if (first.size() == 2) {
    CHECK(first[0].effect.start == T("2026-11-20T10:00:00+08:00"));
    CHECK(first[1].effect.start == T("2026-11-20T10:40:00+08:00"));
  }

  // the same late message when the watermark moved on without other events in between
  Harness quiet(rules_from_yaml(kYaml));
  quiet.replay({buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
                agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00"))});
  quiet.engine.advance(T("2026-11-20T10:40:58+08:00"));
  CHECK(quiet.engine.offer(buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00"))).late);
  quiet.engine.advance_through(t);
  CHECK(quiet.fig(t, "s1", "first_counted").rounds == 1);
  CHECK(quiet.fig(t, "s1", "every_counted").rounds == 2);
}

TEST_CASE("engine: sessions: a small dedup retention does not forget a late event's session",
          "[engine][sessions]") {
  // The same late 10:05 message as above, with ids remembered for 1 ms only: the conversation's
  // session must still be found (docs/events.md: outcomes depend only on event timestamps).
  Harness h(rules_from_yaml(kYaml), replywatch::EngineOptions{ms(1)});
  h.replay({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:01:00+08:00")),
      buyer("x1", "s1", "c2", T("2026-11-20T10:40:00+08:00")),
      agent_msg("x2", "s1", "c2", T("2026-11-20T10:41:00+08:00")),
  });
  CHECK(h.engine.offer(buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00"))).late);
  const Instant t = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "first_counted").rounds == 2);  // c1 10:00 and c2 10:40 only
  CHECK(h.fig(t, "s1", "every_counted").rounds == 3);
}

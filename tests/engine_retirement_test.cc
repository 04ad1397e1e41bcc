// Retired rounds (docs/rules.md, "Sessions"): a round every scoring SLA has decided makes room for
// the next session's first round; one still undecided stays open; retirement is reported as
// RoundEnded.
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

// SLA indices in file order: 0 first_3m, 1 every_2h, 2 human_first_3m.
constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
sessions:
  idle_timeout: 30m
slas:
  - name: first_3m
    kind: reply_time
    rounds: first
    deadline: 3m
  - name: every_2h
    kind: average_response
    max_average: 10m
    unanswered_cost: 2h
  - name: human_first_3m
    kind: reply_time
    rounds: first
    replies: human
    deadline: 3m
)";

// Only the 3-minute SLAs: every round is decided 3 minutes after its start.
constexpr const char* kShortYaml = R"(
platform: tmall
timezone: Asia/Shanghai
sessions:
  idle_timeout: 30m
slas:
  - name: first_3m
    kind: reply_time
    rounds: first
    deadline: 3m
  - name: human_first_3m
    kind: reply_time
    rounds: first
    replies: human
    deadline: 3m
)";

}  // namespace

TEST_CASE("engine: retirement: a breached round is retired by an idle gap", "[engine][retire]") {
  Harness h(rules_from_yaml(kShortYaml));
  h.offer_all({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),  // breached 10:03, never answered
      buyer("b2", "s1", "c1", T("2026-11-20T10:40:00+08:00")),  // 40m idle: new session
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:41:00+08:00")),
  });
  const Instant until = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(until);
  const auto f = h.fig(until, "s1", "first_3m");
  CHECK(f.rounds == 2);
  CHECK(f.breaches == 1);
  CHECK(f.open_rounds == 0);
  const auto decided = h.sink.decided_for("s1", 0);
  REQUIRE(decided.size() == 2);
  CHECK(decided[1].effect.start == T("2026-11-20T10:40:00+08:00"));
  CHECK(decided[1].effect.met);
  CHECK(decided[1].effect.elapsed == mins(1));

  // Both views' rounds end: the 10:00 ones retired at 10:40, the 10:40 ones answered at 10:41.
  for (std::uint32_t sla : {0U, 1U}) {
    INFO("sla " << sla);
    const auto ended = h.sink.ended_for("s1", sla);
    REQUIRE(ended.size() == 2);
    CHECK(ended[0].conversation == "c1");
    CHECK(ended[0].effect.retired);
    CHECK(ended[0].effect.start == T("2026-11-20T10:00:00+08:00"));
    CHECK(ended[0].effect.at == T("2026-11-20T10:40:00+08:00"));
    CHECK_FALSE(ended[1].effect.retired);
    CHECK(ended[1].effect.start == T("2026-11-20T10:40:00+08:00"));
    CHECK(ended[1].effect.at == T("2026-11-20T10:41:00+08:00"));
  }
}

TEST_CASE("engine: retirement: a breached round is retired by conversation_closed",
          "[engine][retire]") {
  Harness h(rules_from_yaml(kShortYaml));
  h.offer_all({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),  // breached 10:03
      closed("x1", "s1", "c1", T("2026-11-20T10:04:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:05:00+08:00")),  // new session 1m later
      // s2: the same without the close is the same session: no new round, nothing retired
      buyer("b1", "s2", "c1", T("2026-11-20T10:00:00+08:00")),
      buyer("b2", "s2", "c1", T("2026-11-20T10:05:00+08:00")),
  });
  const Instant until = T("2026-11-20T11:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_3m").rounds == 2);
  CHECK(h.fig(until, "s1", "first_3m").breaches == 2);  // the 10:05 round breaches at 10:08
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 2);
  CHECK(s1[1].effect.start == T("2026-11-20T10:05:00+08:00"));
  CHECK(s1[1].effect.at == T("2026-11-20T10:08:00+08:00"));
  const auto ended = h.sink.ended_for("s1", 0);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].effect.retired);
  CHECK(ended[0].effect.at == T("2026-11-20T10:05:00+08:00"));

  CHECK(h.fig(until, "s2", "first_3m").rounds == 1);
  CHECK(h.sink.ended_for("s2", 0).empty());
}

TEST_CASE("engine: retirement: a round some SLA has not decided stays open into the new session",
          "[engine][retire]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // first_3m breaches 10:00 at 10:03, but every_2h has not decided it (cost cap 12:00): the
      // new session at 10:40 does not retire it, so 10:40 starts nothing; the agent answers the
      // 10:00 round at 10:41 (every_2h costs 41m); 10:42 is the new session's first round.
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),
      buyer("b2", "s1", "c1", T("2026-11-20T10:40:00+08:00")),
      agent_msg("a1", "s1", "c1", T("2026-11-20T10:41:00+08:00")),
      buyer("b3", "s1", "c1", T("2026-11-20T10:42:00+08:00")),
      agent_msg("a2", "s1", "c1", T("2026-11-20T10:43:00+08:00")),
  });
  const Instant until = T("2026-11-20T13:00:00+08:00");
  h.engine.advance_through(until);
  const auto first = h.sink.decided_for("s1", 0);
  REQUIRE(first.size() == 2);
  CHECK(first[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK_FALSE(first[0].effect.met);
  CHECK(first[1].effect.start == T("2026-11-20T10:42:00+08:00"));
  CHECK(first[1].effect.met);
  const auto average = h.sink.decided_for("s1", 1);
  REQUIRE(average.size() == 2);
  CHECK(average[0].effect.start == T("2026-11-20T10:00:00+08:00"));
  CHECK(average[0].effect.elapsed == mins(41));
  CHECK(average[1].effect.elapsed == mins(1));
  // The human view's 10:00 round is decided by its only SLA, so 10:40 retires it there.
  const auto human = h.sink.decided_for("s1", 2);
  REQUIRE(human.size() == 2);
  CHECK(human[1].effect.start == T("2026-11-20T10:40:00+08:00"));
  for (const auto& ended : h.sink.ended_for("s1", 0)) CHECK_FALSE(ended.effect.retired);
  CHECK(h.sink.ended_for("s1", 2).at(0).effect.retired);
}

TEST_CASE("engine: retirement: a late reply after retirement answers nothing", "[engine][retire]") {
  Harness h(rules_from_yaml(kShortYaml));
  h.replay({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),  // breached 10:03
      buyer("b2", "s1", "c1", T("2026-11-20T11:00:00+08:00")),  // retires it, opens 11:00
  });
  h.engine.advance(T("2026-11-20T11:01:00+08:00"));
  // The agent's 10:30 reply arrives late: the 10:00 round is retired and the 11:00 round began
  // after it, so it answers neither.
  CHECK(h.engine.offer(agent_msg("a1", "s1", "c1", T("2026-11-20T10:30:00+08:00"))).late);
  const Instant until = T("2026-11-20T12:00:00+08:00");
  h.engine.advance_through(until);
  const auto f = h.fig(until, "s1", "first_3m");
  CHECK(f.rounds == 2);
  CHECK(f.breaches == 2);
  const auto ended = h.sink.ended_for("s1", 0);
  REQUIRE(ended.size() == 1);  // only the retirement; no answer ended anything
  CHECK(ended[0].effect.retired);
}

TEST_CASE("engine: retirement: decided, idle conversations are forgotten", "[engine][retire]") {
  Harness h(rules_from_yaml(kShortYaml), replywatch::EngineOptions{std::chrono::hours(1)});
  h.replay({
      buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")),  // never answered
      buyer("b2", "s1", "c2", T("2026-11-20T10:01:00+08:00")),
  });
  h.engine.advance(T("2026-11-20T10:01:01+08:00"));
  CHECK(h.engine.memory_stats().conversations == 2);
  // Days later, when both are idle past the timeout and the late horizon, other traffic comes.
  h.replay({buyer("b3", "s1", "c3", T("2026-11-24T10:00:00+08:00"))});
  h.engine.advance(T("2026-11-24T10:00:01+08:00"));
  CHECK(h.engine.memory_stats().conversations == 1);
  const auto ended = h.sink.ended_for("s1", 0);
  REQUIRE(ended.size() == 2);
  CHECK(ended[0].effect.retired);
  CHECK(ended[1].effect.retired);
  // A forgotten conversation's buyer starts a first round, as a new session would.
  h.replay({buyer("b4", "s1", "c1", T("2026-11-24T10:05:00+08:00"))});
  const Instant until = T("2026-11-24T11:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "first_3m").rounds == 4);
}

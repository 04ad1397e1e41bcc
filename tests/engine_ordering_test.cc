// Hand-worked ordering, dedup and lateness scenarios (docs/events.md).
#include <catch2/catch.hpp>
#include <stdexcept>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
)";

constexpr const char* kJdYaml = R"(
platform: jd
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
)";

}  // namespace

TEST_CASE("engine: ordering: duplicates are counted and not applied", "[engine][ordering]") {
  Harness h(rules_from_yamls({kYaml, kJdYaml}));
  CHECK_FALSE(h.engine.offer(buyer("m1", "s1", "c1", T("2026-11-20T10:00:00+08:00"))).duplicate);
  // same (platform, shop, id): a duplicate whatever its content, so this reply is never applied
  const auto dup = h.engine.offer(agent_msg("m1", "s1", "c1", T("2026-11-20T10:01:00+08:00")));
  CHECK(dup.duplicate);
  // another shop, another platform: not duplicates
  CHECK_FALSE(h.engine.offer(buyer("m1", "s2", "c1", T("2026-11-20T10:00:00+08:00"))).duplicate);
  CHECK_FALSE(
      h.engine.offer(buyer("m1", "s1", "c1", T("2026-11-20T10:00:00+08:00"), "jd")).duplicate);
  // an exact retry
  CHECK(h.engine.offer(buyer("m1", "s2", "c1", T("2026-11-20T10:00:00+08:00"))).duplicate);
  CHECK(h.engine.counters().accepted == 3);
  CHECK(h.engine.counters().duplicates == 2);
  CHECK(h.engine.counters().late == 0);

  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "s1", "reply_3m");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 1);  // the duplicate-id reply did not answer
  CHECK(h.fig(t, "s2", "reply_3m").rounds == 1);
  CHECK(h.fig(t, "s1", "reply_3m", "jd").rounds == 1);
}

TEST_CASE("engine: ordering: dedup retention is measured against the watermark",
          "[engine][ordering]") {
  replywatch::EngineOptions options;
  options.dedup_retention = std::chrono::hours(1);
  Harness h(rules_from_yaml(kYaml), options);
  CHECK_FALSE(h.engine.offer(buyer("m1", "s1", "c1", T("2026-11-20T10:00:00+08:00"))).duplicate);
  h.engine.advance(T("2026-11-20T10:30:00+08:00"));
  CHECK(h.engine.offer(buyer("m1", "s1", "c2", T("2026-11-20T10:40:00+08:00"))).duplicate);
  // the copy's own ts is past 10:00 + 1h, but the watermark (10:30) is not: still a duplicate
  CHECK(h.engine.offer(buyer("m1", "s1", "c2", T("2026-11-20T11:05:00+08:00"))).duplicate);
  // once the watermark has passed 11:00 the id is accepted again (and applied: c2 gets a round)
  h.engine.advance(T("2026-11-20T11:00:01+08:00"));
  CHECK_FALSE(h.engine.offer(buyer("m1", "s1", "c2", T("2026-11-20T11:06:00+08:00"))).duplicate);
  CHECK(h.engine.counters().accepted == 2);
  CHECK(h.engine.counters().duplicates == 2);
  const Instant t = T("2026-11-20T11:30:00+08:00");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "s1", "reply_3m");
  CHECK(f.rounds == 2);  // c1 10:00 and c2 11:06, both breached
  CHECK(f.breaches == 2);
  REQUIRE(h.sink.decided.size() == 2);
  CHECK(h.sink.decided[1].effect.start == T("2026-11-20T11:06:00+08:00"));
}

TEST_CASE("engine: ordering: a reply with the same ts answers only if it arrived after",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Instant ts = T("2026-11-20T10:00:00+08:00");
  h.offer_all({
      // s1: the reply arrived before the buyer message with the same ts: it answers nothing
      agent_msg("a1", "s1", "c1", ts),
      buyer("b1", "s1", "c1", ts),
      // s2: the buyer message first: the reply answers it, elapsed 0
      buyer("b1", "s2", "c1", ts),
      agent_msg("a1", "s2", "c1", ts),
  });
  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "reply_3m").breaches == 1);
  CHECK(h.fig(t, "s2", "reply_3m").breaches == 0);
  const auto s2 = h.sink.decided_for("s2", 0);
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].effect.met);
  CHECK(s2[0].effect.elapsed == ms(0));
  const auto s1 = h.sink.decided_for("s1", 0);
  REQUIRE(s1.size() == 1);
  CHECK(s1[0].effect.at == T("2026-11-20T10:03:00+08:00"));
}

TEST_CASE("engine: ordering: same-ts ties keep arrival order in the replay drive",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Instant ts = T("2026-11-20T10:00:00+08:00");
  h.replay({agent_msg("a1", "s1", "c1", ts), buyer("b1", "s1", "c1", ts),
            buyer("b1", "s2", "c1", ts), agent_msg("a1", "s2", "c1", ts)});
  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "reply_3m").breaches == 1);
  CHECK(h.fig(t, "s2", "reply_3m").breaches == 0);
}

TEST_CASE("engine: ordering: the reorder buffer sorts events within the lateness",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  // the reply (10:00:01) arrives before the message it answers (10:00:00): 1s out of order
  h.replay({agent_msg("a1", "s1", "c1", T("2026-11-20T10:00:01+08:00")),
            buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00"))});
  CHECK(h.engine.counters().late == 0);
  const Instant t = T("2026-11-20T10:10:00+08:00");
  h.engine.advance_through(t);
  CHECK(h.fig(t, "s1", "reply_3m").breaches == 0);
  REQUIRE(h.sink.decided.size() == 1);
  CHECK(h.sink.decided[0].effect.elapsed == sec(1));
}

TEST_CASE("engine: ordering: late events are counted and never change a decided outcome",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Duration lateness = sec(2);
  auto offer = [&](const Event& e) {
    if (!h.max_seen || e.ts > *h.max_seen) h.max_seen = e.ts;
    const auto result = h.engine.offer(e);
    h.engine.advance(*h.max_seen - lateness);
    return result;
  };
  CHECK_FALSE(offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00"))).late);
  CHECK_FALSE(offer(buyer("b3", "s1", "c3", T("2026-11-20T10:04:00+08:00"))).late);
  // moves the watermark to 10:05:00: c1's deadline (10:03) has fired
  CHECK_FALSE(offer(buyer("b9", "s1", "c9", T("2026-11-20T10:05:02+08:00"))).late);
  CHECK(h.engine.watermark() == T("2026-11-20T10:05:00+08:00"));
  CHECK(h.fig(T("2026-11-20T10:05:00+08:00"), "s1", "reply_3m").breaches == 1);
  // a late reply to c1 (10:02): applied, but c1 stays breached
  CHECK(offer(agent_msg("a1", "s1", "c1", T("2026-11-20T10:02:00+08:00"))).late);
  // a late buyer message (10:01) opens a round whose deadline (10:04) is already behind
  CHECK(offer(buyer("b2", "s1", "c2", T("2026-11-20T10:01:00+08:00"))).late);
  // a late reply to c3 (10:04:30) before its deadline (10:07): it answers, elapsed 30s
  CHECK(offer(agent_msg("a3", "s1", "c3", T("2026-11-20T10:04:30+08:00"))).late);
  CHECK(h.engine.counters().late == 3);
  CHECK(h.engine.counters().accepted == 6);

  const Instant t = T("2026-11-20T10:20:00+08:00");
  h.engine.advance_through(t);
  const auto f = h.fig(t, "s1", "reply_3m");
  CHECK(f.rounds == 4);    // c1, c2, c3, c9
  CHECK(f.breaches == 3);  // c1 (10:03), c2 (10:04), c9 (10:08:02)
  CHECK(f.open_rounds == 0);
  REQUIRE(h.sink.decided.size() == 4);
  int c1_decisions = 0;
  for (const auto& d : h.sink.decided) {
    if (d.effect.start == T("2026-11-20T10:00:00+08:00")) {
      ++c1_decisions;
      CHECK_FALSE(d.effect.answered);
      CHECK(d.effect.at == T("2026-11-20T10:03:00+08:00"));
    }
    if (d.effect.start == T("2026-11-20T10:04:00+08:00")) {
      CHECK(d.effect.met);
      CHECK(d.effect.elapsed == sec(30));
    }
  }
  CHECK(c1_decisions == 1);
}

TEST_CASE("engine: ordering: late means strictly before the watermark", "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  h.engine.advance(T("2026-11-20T10:05:00+08:00"));
  CHECK(h.engine.watermark() == T("2026-11-20T10:05:00+08:00"));
  CHECK_FALSE(h.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:05:00+08:00"))).late);
  CHECK(h.engine.offer(buyer("b2", "s1", "c2", T("2026-11-20T10:04:59.999+08:00"))).late);
  CHECK(h.engine.counters().late == 1);
  // the watermark never moves back
  h.engine.advance(T("2026-11-20T10:00:00+08:00"));
  CHECK(h.engine.watermark() == T("2026-11-20T10:05:00+08:00"));
}

TEST_CASE("engine: ordering: next_due names the earliest buffered event or timer",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  h.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")));
  REQUIRE(h.engine.next_due().has_value());
  CHECK(*h.engine.next_due() == T("2026-11-20T10:00:00+08:00"));
  h.engine.advance_through(T("2026-11-20T10:00:00+08:00"));
  REQUIRE(h.engine.next_due().has_value());
  CHECK(*h.engine.next_due() == T("2026-11-20T10:03:00+08:00"));  // the deadline
  h.engine.advance_through(T("2026-11-20T10:03:00+08:00"));
  CHECK(h.fig(T("2026-11-20T10:03:00+08:00"), "s1", "reply_3m").breaches == 1);
  CHECK_FALSE(h.engine.next_due().has_value());  // nothing left to wait for
}

TEST_CASE("engine: ordering: nothing after the apply limit is applied", "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Instant until = T("2026-11-20T10:10:00+08:00");
  h.engine.set_apply_limit(until);
  h.engine.offer(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")));
  h.engine.offer(agent_msg("a1", "s1", "c1", T("2026-11-20T10:10:00.001+08:00")));
  h.engine.offer(buyer("b1", "s9", "c1", T("2026-11-20T10:20:00+08:00")));
  h.engine.advance(T("2026-11-20T11:00:00+08:00"));
  h.engine.advance_through(until);
  const auto all = h.engine.figures(until);
  CHECK(h.engine.counters().accepted == 3);  // events after until are still counted
  REQUIRE(all.size() == 1);                  // s9's only event is after until
  CHECK(all[0].shop == "s1");
  CHECK(all[0].rounds == 1);
  CHECK(all[0].breaches == 1);  // the reply after until was not applied
}

TEST_CASE("engine: ordering: the dedup key keeps shop and id apart", "[engine][ordering]") {
  // (shop "a\x1fb", id "c") and (shop "a", id "b\x1fc") are different events.
  Harness h(rules_from_yaml(kYaml));
  CHECK_FALSE(h.engine
                  .offer(buyer("c",
                               "a\x1f"
                               "b",
                               "c1", T("2026-11-20T10:00:00Z")))
                  .duplicate);
  CHECK_FALSE(h.engine
                  .offer(buyer("b\x1f"
                               "c",
                               "a", "c1", T("2026-11-20T10:00:01Z")))
                  .duplicate);
  CHECK(h.engine
            .offer(buyer("c",
                         "a\x1f"
                         "b",
                         "c1", T("2026-11-20T10:00:00Z")))
            .duplicate);
  CHECK(h.engine.counters().accepted == 2);
  CHECK(h.engine.counters().duplicates == 1);
}

TEST_CASE("engine: ordering: a key worked out once serves is_duplicate and offer",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Event event = buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z"));
  const replywatch::EventKey key = h.engine.key_of(event);
  CHECK_FALSE(h.engine.is_duplicate(key));
  CHECK_FALSE(h.engine.offer(event, key).duplicate);
  CHECK(h.engine.is_duplicate(key));
  CHECK(h.engine.is_duplicate(event));
  // Another shop or id is another key; an unknown platform has none.
  CHECK_FALSE(h.engine.is_duplicate(h.engine.key_of(buyer("b1", "s2", "c1", event.ts))));
  CHECK_FALSE(h.engine.is_duplicate(h.engine.key_of(buyer("b2", "s1", "c1", event.ts))));
  CHECK_THROWS_AS(h.engine.key_of(buyer("b1", "s1", "c1", event.ts, "nowhere")),
                  std::invalid_argument);
  CHECK(h.engine.offer(event).duplicate);
  CHECK(h.engine.counters().duplicates == 1);
}

TEST_CASE("engine: ordering: a claim is the dedup step of offer done ahead, and can be released",
          "[engine][ordering]") {
  Harness h(rules_from_yaml(kYaml));
  const Event event = buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z"));
  const replywatch::EventKey key = h.engine.key_of(event);
  const Instant as_of = event.ts - std::chrono::seconds(2);
  h.engine.prefetch(key);  // a hint: claims and offers answer as without it
  CHECK_FALSE(h.engine.is_duplicate(key));
  CHECK_FALSE(h.engine.claim(key, event.ts, as_of));
  h.engine.prefetch(key);
  // A copy arriving while the first is being made durable is a duplicate already.
  CHECK(h.engine.claim(key, event.ts, as_of));
  CHECK(h.engine.is_duplicate(key));
  // A claim whose event could not be made durable is forgotten: the retry counts anew.
  h.engine.release(key);
  CHECK_FALSE(h.engine.is_duplicate(key));
  CHECK_FALSE(h.engine.claim(key, event.ts, as_of));
  const replywatch::OfferResult result = h.engine.offer_claimed(event);
  CHECK_FALSE(result.duplicate);
  CHECK(h.engine.counters().accepted == 1);
  CHECK(h.engine.counters().duplicates == 0);
  // offer() of a claimed key is the duplicate, exactly as after a plain offer.
  CHECK(h.engine.offer(event, key).duplicate);
  CHECK(h.engine.counters().duplicates == 1);
  // Releasing a key never claimed changes nothing.
  h.engine.release(h.engine.key_of(buyer("b9", "s1", "c1", event.ts)));
  CHECK(h.engine.is_duplicate(key));
}

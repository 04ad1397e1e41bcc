// `channels` on an SLA (docs/rules.md, "Channels"): only rounds started on a listed channel are
// scored; the others still exist and are answered as usual.
#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;

namespace {

// SLA indices: 0 email_24h (email), 1 chat_3m (chat, whatsapp), 2 any_10m (every channel).
constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: email_24h
    kind: reply_time
    deadline: 24h
    channels: [email]
  - name: chat_3m
    kind: reply_time
    deadline: 3m
    channels: [chat, whatsapp]
  - name: any_10m
    kind: reply_time
    deadline: 10m
)";

Event on(Event event, std::string channel) {
  event.channel = std::move(channel);
  return event;
}

}  // namespace

TEST_CASE("engine: channels: an SLA scores only rounds started on its channels",
          "[engine][channels]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // c1 by email, answered after an hour: email_24h met, any_10m breached, chat_3m unscored
      on(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")), "email"),
      agent_msg("a1", "s1", "c1", T("2026-11-20T11:00:00+08:00")),
      // c2 without a channel is chat: chat_3m breached at 10:03, any_10m met
      buyer("b2", "s1", "c2", T("2026-11-20T10:00:00+08:00")),
      agent_msg("a2", "s1", "c2", T("2026-11-20T10:05:00+08:00")),
      // c3 on whatsapp, answered in time
      on(buyer("b3", "s1", "c3", T("2026-11-20T10:00:00+08:00")), "whatsapp"),
      agent_msg("a3", "s1", "c3", T("2026-11-20T10:01:00+08:00")),
      // c4 on a channel no channel list names: only any_10m
      on(buyer("b4", "s1", "c4", T("2026-11-20T10:00:00+08:00")), "sms"),
      agent_msg("a4", "s1", "c4", T("2026-11-20T10:01:00+08:00")),
  });
  const Instant until = T("2026-11-21T12:00:00+08:00");
  h.engine.advance_through(until);
  const auto email = h.fig(until, "s1", "email_24h");
  CHECK(email.rounds == 1);
  CHECK(email.breaches == 0);
  const auto chat = h.fig(until, "s1", "chat_3m");
  CHECK(chat.rounds == 2);
  CHECK(chat.breaches == 1);
  const auto any = h.fig(until, "s1", "any_10m");
  CHECK(any.rounds == 4);
  CHECK(any.breaches == 1);
}

TEST_CASE("engine: channels: the starting message's channel decides, later ones do not",
          "[engine][channels]") {
  Harness h(rules_from_yaml(kYaml));
  h.offer_all({
      // The round starts by email; a chat message while it is open changes nothing, and the
      // reply (on any channel) answers it.
      on(buyer("b1", "s1", "c1", T("2026-11-20T10:00:00+08:00")), "email"),
      on(buyer("b2", "s1", "c1", T("2026-11-20T10:01:00+08:00")), "chat"),
      on(agent_msg("a1", "s1", "c1", T("2026-11-20T10:30:00+08:00")), "chat"),
      // The next round starts on chat and is scored by chat_3m, not email_24h.
      on(buyer("b3", "s1", "c1", T("2026-11-20T10:31:00+08:00")), "chat"),
      agent_msg("a2", "s1", "c1", T("2026-11-20T10:32:00+08:00")),
  });
  const Instant until = T("2026-11-21T12:00:00+08:00");
  h.engine.advance_through(until);
  CHECK(h.fig(until, "s1", "email_24h").rounds == 1);
  CHECK(h.fig(until, "s1", "chat_3m").rounds == 1);
  CHECK(h.fig(until, "s1", "chat_3m").breaches == 0);
  CHECK(h.fig(until, "s1", "any_10m").rounds == 2);
  const auto email = h.sink.decided_for("s1", 0);
  REQUIRE(email.size() == 1);
  CHECK(email[0].effect.elapsed == mins(30));
}

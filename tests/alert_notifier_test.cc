// The conversation alerts' bookkeeping: what is sent when, without sockets or clocks.
#include "alert_notifier.h"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "alertmanager_client.h"
#include "engine_test_support.h"

using namespace rwtest;
using replywatch::server::AlertNotifier;
using replywatch::server::NotifierSettings;

namespace {

constexpr const char* kRules = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: warned
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    notify: page
  - name: unwarned
    kind: reply_time
    deadline: 5m
    notify: ticket
  - name: silent
    kind: reply_time
    deadline: 1m
)";

struct Alert {
  std::string name;
  std::string sla;
  std::string conversation;
  std::string severity;
  std::string starts_at;
  std::string ends_at;
  std::string due;
  std::string link;
};

std::vector<Alert> decode(const std::vector<std::string>& texts) {
  std::vector<Alert> out;
  for (const std::string& text : texts) {
    const auto value = boost::json::parse(text).as_object();
    const auto& labels = value.at("labels").as_object();
    const auto& annotations = value.at("annotations").as_object();
    CHECK(labels.at("platform").as_string() == "tmall");
    CHECK(labels.at("shop").as_string() == "s1");
    CHECK_FALSE(annotations.at("summary").as_string().empty());
    out.push_back(
        {std::string(labels.at("alertname").as_string()), std::string(labels.at("sla").as_string()),
         std::string(labels.at("conversation").as_string()),
         std::string(labels.at("severity").as_string()),
         std::string(value.at("startsAt").as_string()), std::string(value.at("endsAt").as_string()),
         std::string(annotations.at("due").as_string()),
         std::string(annotations.at("at_risk_url").as_string())});
  }
  return out;
}

// One engine whose effects feed one notifier, driven with instants as data.
struct Rig {
  explicit Rig(NotifierSettings settings = defaults())
      : engine(rules_from_yaml(kRules)), notifier(engine, std::move(settings)) {
    engine.set_effect_sink(&notifier);
  }
  static NotifierSettings defaults() {
    NotifierSettings settings;
    settings.at_risk_base_url = "http://rw.example:9871";
    return settings;
  }
  void at(Instant t, std::vector<Event> events = {}) {
    for (auto& event : events) engine.offer(std::move(event));
    engine.advance(t);
  }
  replywatch::Engine engine;
  AlertNotifier notifier;
};

}  // namespace

TEST_CASE(
    "alert_notifier: at risk from the warning point, overdue from the deadline, resolved "
    "on the answer",
    "[alert_notifier]") {
  Rig rig;
  rig.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  rig.at(T("2026-11-20T10:00:01Z"), {buyer("b1", "s1", "buyer 1/x", T("2026-11-20T10:00:00Z"))});
  CHECK(rig.notifier.collect(T("2026-11-20T10:00:01Z"), false).empty());

  rig.at(T("2026-11-20T10:02:00.001Z"));  // the warning point of `warned`
  auto sent = decode(rig.notifier.collect(T("2026-11-20T10:02:00.050Z"), false));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].name == "ReplyConversationAtRisk");
  CHECK(sent[0].sla == "warned");
  CHECK(sent[0].conversation == "buyer 1/x");
  CHECK(sent[0].severity == "page");
  CHECK(sent[0].starts_at == "2026-11-20T10:02:00.000Z");
  CHECK(sent[0].ends_at == "2026-11-20T10:06:00.050Z");  // 4 re-send intervals
  CHECK(sent[0].due == "2026-11-20T10:03:00.000Z");
  CHECK(sent[0].link == "http://rw.example:9871/v1/at-risk?platform=tmall&shop=s1");
  // Nothing changed: nothing to send until the re-send interval has passed.
  CHECK(rig.notifier.collect(T("2026-11-20T10:02:30Z"), true).empty());

  rig.at(T("2026-11-20T10:03:00.001Z"));  // the deadline: overdue, and at risk stays
  sent = decode(rig.notifier.collect(T("2026-11-20T10:03:00.010Z"), false));
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].name == "ReplyConversationAtRisk");
  CHECK(sent[1].name == "ReplyConversationOverdue");
  CHECK(sent[1].starts_at == "2026-11-20T10:03:00.000Z");

  rig.at(T("2026-11-20T10:05:00.001Z"));  // `unwarned` (no warning) starts at its deadline
  sent = decode(rig.notifier.collect(T("2026-11-20T10:05:00.010Z"), false));
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].sla == "unwarned");
  CHECK(sent[0].severity == "ticket");
  CHECK(sent[0].starts_at == "2026-11-20T10:05:00.000Z");
  CHECK(sent[1].name == "ReplyConversationOverdue");
  CHECK(rig.notifier.active_rounds() == 2);

  rig.at(T("2026-11-20T10:06:00.001Z"),
         {agent_msg("a1", "s1", "buyer 1/x", T("2026-11-20T10:06:00Z"))});
  sent = decode(rig.notifier.collect(T("2026-11-20T10:06:00.020Z"), false));
  REQUIRE(sent.size() == 4);  // both alerts of both SLAs, ended now
  for (const Alert& alert : sent) CHECK(alert.ends_at == "2026-11-20T10:06:00.020Z");
  CHECK(rig.notifier.active_rounds() == 0);
  CHECK(rig.notifier.collect(T("2026-11-20T10:20:00Z"), true).empty());
}

TEST_CASE("alert_notifier: a round answered before its warning point pages nobody",
          "[alert_notifier]") {
  Rig rig;
  rig.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  rig.at(T("2026-11-20T10:10:00Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")),
                                     agent_msg("a1", "s1", "c1", T("2026-11-20T10:00:30Z"))});
  CHECK(rig.notifier.collect(T("2026-11-20T10:10:00Z"), true).empty());
  CHECK(rig.notifier.active_rounds() == 0);
}

TEST_CASE("alert_notifier: active alerts are re-sent each interval with a bounded endsAt",
          "[alert_notifier]") {
  Rig rig;
  rig.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  rig.at(T("2026-11-20T10:02:30Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z"))});
  REQUIRE(rig.notifier.collect(T("2026-11-20T10:02:30Z"), true).size() == 1);
  CHECK(rig.notifier.collect(T("2026-11-20T10:03:00Z"), true).empty());
  const auto resent = decode(rig.notifier.collect(T("2026-11-20T10:03:30Z"), true));
  REQUIRE(resent.size() == 1);
  CHECK(resent[0].starts_at == "2026-11-20T10:02:00.000Z");
  CHECK(resent[0].ends_at == "2026-11-20T10:07:30.000Z");
  rig.at(T("2026-11-20T10:03:40Z"));  // overdue: both alerts of the round go out
  CHECK(decode(rig.notifier.collect(T("2026-11-20T10:03:40Z"), false)).size() == 2);
  // Not re-sent without the resend flag (the flush after every engine step).
  rig.at(T("2026-11-20T10:06:00Z"));
  for (const Alert& alert : decode(rig.notifier.collect(T("2026-11-20T10:06:00Z"), false))) {
    CHECK(alert.sla == "unwarned");  // only what changed: unwarned's deadline passed
  }
}

TEST_CASE("alert_notifier: history replayed before go_live is not sent, only what is active",
          "[alert_notifier]") {
  Rig rig;
  // The journal: c1 warned and answered, c2 still waiting past its warning point.
  rig.at(T("2026-11-20T10:10:00.001Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")),
                                         agent_msg("a1", "s1", "c1", T("2026-11-20T10:02:30Z")),
                                         buyer("b2", "s1", "c2", T("2026-11-20T10:08:00Z"))});
  CHECK(rig.notifier.collect(T("2026-11-20T10:10:00Z"), true).empty());  // not live yet
  rig.notifier.go_live(nullptr, T("2026-11-20T10:10:00Z"));
  const auto sent = decode(rig.notifier.collect(T("2026-11-20T10:10:00Z"), false));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].conversation == "c2");
  CHECK(sent[0].starts_at == "2026-11-20T10:10:00.000Z");
}

TEST_CASE("alert_notifier: a rebuilt state resolves only what vanished and resends nothing known",
          "[alert_notifier]") {
  Rig old_state;
  old_state.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  old_state.at(T("2026-11-20T10:02:30Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")),
                                           buyer("b2", "s1", "c2", T("2026-11-20T10:00:10Z"))});
  REQUIRE(old_state.notifier.collect(T("2026-11-20T10:02:30Z"), false).size() == 2);

  // New rules: the same history, but c2's round is answered in it (e.g. a late reply the old
  // state never applied); c1 is still at risk.
  Rig new_state;
  new_state.at(T("2026-11-20T10:02:30Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")),
                                           buyer("b2", "s1", "c2", T("2026-11-20T10:00:10Z")),
                                           agent_msg("a2", "s1", "c2", T("2026-11-20T10:02:20Z"))});
  new_state.notifier.go_live(&old_state.notifier, T("2026-11-20T10:02:31Z"));
  const auto sent = decode(new_state.notifier.collect(T("2026-11-20T10:02:31Z"), false));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].conversation == "c2");
  CHECK(sent[0].ends_at == "2026-11-20T10:02:31.000Z");  // resolved
  // c1 keeps the old schedule: not due again before its interval.
  CHECK(new_state.notifier.collect(T("2026-11-20T10:03:00Z"), true).empty());
  new_state.at(T("2026-11-20T10:03:00.001Z"));  // then its deadline passes: that goes out
  CHECK(decode(new_state.notifier.collect(T("2026-11-20T10:03:01Z"), false)).size() == 2);
}

TEST_CASE("alert_notifier: tracking is bounded; forgotten rounds stop paging after max_overdue",
          "[alert_notifier]") {
  NotifierSettings settings = Rig::defaults();
  settings.max_active = 1;
  settings.max_overdue = std::chrono::hours(1);
  Rig rig(settings);
  rig.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  rig.at(T("2026-11-20T10:02:30Z"), {buyer("b1", "s1", "c1", T("2026-11-20T10:00:00Z")),
                                     buyer("b2", "s1", "c2", T("2026-11-20T10:00:00Z"))});
  CHECK(rig.notifier.active_rounds() == 1);
  CHECK(rig.notifier.take_dropped() == 1);
  CHECK(rig.notifier.take_dropped() == 0);
  rig.notifier.collect(T("2026-11-20T10:02:30Z"), true);
  rig.at(T("2026-11-20T11:10:00Z"));
  const auto sent = decode(rig.notifier.collect(T("2026-11-20T11:10:00Z"), true));
  REQUIRE_FALSE(sent.empty());
  for (const Alert& alert : sent) CHECK(alert.ends_at == "2026-11-20T11:10:00.000Z");
  CHECK(rig.notifier.active_rounds() == 0);
}

TEST_CASE("alert_notifier: Alertmanager URLs are http://HOST[:PORT][/PREFIX]", "[alert_notifier]") {
  using replywatch::server::parse_http_url;
  const auto plain = parse_http_url("http://127.0.0.1:9093");
  REQUIRE(plain);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "9093");
  CHECK(plain->path.empty());
  const auto prefixed = parse_http_url("http://am.example/alertmanager/");
  REQUIRE(prefixed);
  CHECK(prefixed->port == "80");
  CHECK(prefixed->path == "/alertmanager");
  const auto v6 = parse_http_url("http://[::1]:9093");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  for (const char* bad :
       {"https://am:9093", "am:9093", "http://", "http://am:0", "http://am:", "http://am:x",
        "http://user@am:9093", "http://am:9093/?q=1", "http://[::1"}) {
    INFO(bad);
    CHECK_FALSE(parse_http_url(bad));
  }
}

TEST_CASE("alert_notifier: conversation keys are JSON-escaped", "[alert_notifier]") {
  Rig rig;
  rig.notifier.go_live(nullptr, T("2026-11-20T10:00:00Z"));
  const std::string key = "say \"hi\" \\ then\nnew line \x01 买家";
  rig.at(T("2026-11-20T10:02:01Z"), {buyer("b1", "s1", key, T("2026-11-20T10:00:00Z"))});
  const auto sent = decode(rig.notifier.collect(T("2026-11-20T10:02:01Z"), false));
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].conversation == key);
}

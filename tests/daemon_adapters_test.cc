// POST /v1/adapters/NAME on the real daemon (docs/adapters.md): a conversation told through
// Chatwoot's webhooks gives the figures of the same story posted as events, dry runs store
// nothing, retries are duplicates, and refused requests change nothing.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "chatwoot_bodies.h"
#include "daemon_process.h"
#include "hmac.h"
#include "replywatch/time.h"
#include "temp_dir.h"

using replywatch::test::ChatwootMessage;
using replywatch::test::ChatwootStatusChange;
using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::HttpReply;
using rwtest::TempDir;
namespace json = boost::json;

namespace {

const std::string kSecret = "chatwoot-webhook-secret";

// Always-on hours, so that every figure is decided by the events alone, not by the moment of
// the scrape.
constexpr const char* kChatwootRules = R"(platform: chatwoot
timezone: UTC
replies:
  counted_bots: ["agent_bot:1"]
slas:
  - name: first_reply_15m
    kind: reply_time
    rounds: first
    replies: counted
    deadline: 15m
    warn_before: 5m
    hours: always
    window: 1d
  - name: human_reply_10m
    kind: reply_time
    rounds: every
    replies: human
    deadline: 10m
    hours: always
    objective: 0.5
    window: 1d
)";

std::string iso(std::int64_t ms) {
  return replywatch::format_rfc3339(replywatch::Instant(replywatch::Duration(ms)));
}

HttpReply post_chatwoot(unsigned short port, const std::string& body,
                        const std::string& target = "/v1/adapters/support",
                        const std::string& secret = kSecret) {
  const std::string timestamp = std::to_string(rwtest::now_ms() / 1000);
  const std::string signature =
      "sha256=" + replywatch::adapters::to_lower_hex(
                      replywatch::adapters::hmac_sha256(secret, {timestamp, ".", body}));
  return http_call(port, "POST", target, body,
                   {{"Content-Type", "application/json"},
                    {"X-Chatwoot-Timestamp", timestamp},
                    {"X-Chatwoot-Signature", signature}});
}

// The figures of platform chatwoot in a scrape.
std::map<std::string, double> chatwoot_figures(const DaemonProcess& daemon) {
  std::map<std::string, double> out;
  for (const auto& [key, value] : rwtest::scrape(daemon)) {
    if (key.find("platform=\"chatwoot\"") != std::string::npos) out[key] = value;
  }
  return out;
}

struct Daemons {
  TempDir dir{"adapters"};
  std::unique_ptr<DaemonProcess> adapted;  // takes Chatwoot's webhooks
  std::unique_ptr<DaemonProcess> direct;   // takes the same story as events

  Daemons() {
    dir.write("rules/chatwoot.yaml", kChatwootRules);
    dir.write("chatwoot.secret", kSecret + "\n");
    const std::string config =
        dir.write("config.yaml", "rules: " + dir.file("rules") + "\ndata: " + dir.file("data-a") +
                                     "\nadapters:\n  - name: support\n    kind: chatwoot\n"
                                     "    platform: chatwoot\n    secret_file: " +
                                     dir.file("chatwoot.secret") + "\n");
    adapted = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config});
    direct = std::make_unique<DaemonProcess>(
        std::vector<std::string>{"--rules", dir.file("rules"), "--data", dir.file("data-b")});
  }
};

}  // namespace

TEST_CASE("daemon_adapters: a Chatwoot conversation gives the figures of the same events",
          "[daemon][adapters]") {
  Daemons daemons;
  const auto port = daemons.adapted->ingest_port();
  // An hour ago, to the millisecond, so that every deadline has passed.
  const std::int64_t base = (rwtest::now_ms() - 3'600'000) / 1000 * 1000 + 120;
  const std::int64_t minute = 60'000;

  std::vector<std::string> bodies;
  std::vector<json::object> events;
  auto event = [&](std::string id, std::string type, std::string conversation, std::int64_t ts,
                   std::string channel) {
    json::object e{{"id", id},          {"platform", "chatwoot"},       {"shop", "3"},
                   {"type", type},      {"conversation", conversation}, {"ts", iso(ts)},
                   {"channel", channel}};
    return e;
  };
  auto message = [&](std::int64_t id, std::string type, std::string sender, std::int64_t sender_id,
                     std::int64_t conversation, std::int64_t ts) {
    ChatwootMessage m;
    m.id = id;
    m.message_type = std::move(type);
    m.sender_type = std::move(sender);
    m.sender_id = sender_id;
    m.conversation = conversation;
    m.created_at = iso(ts);
    m.inbox = conversation == 41 ? 12 : 13;
    m.channel = conversation == 41 ? "Channel::Api" : "Channel::Whatsapp";
    return m;
  };
  // Conversation 41 (an API inbox bridging a marketplace): the buyer, a counted bot, an agent,
  // a private note, resolved; the buyer again (a new session), an agent.
  bodies.push_back(
      replywatch::test::chatwoot_message_body(message(101, "incoming", "contact", 77, 41, base)));
  events.push_back(event("cw:msg:101", "buyer_message", "41", base, "api"));
  auto bot = message(102, "outgoing", "agent_bot", 1, 41, base + minute);
  bodies.push_back(replywatch::test::chatwoot_message_body(bot));
  events.push_back(event("cw:msg:102", "bot_message", "41", base + minute, "api"));
  events.back()["bot"] = "agent_bot:1";
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(103, "outgoing", "user", 9, 41, base + 4 * minute)));
  events.push_back(event("cw:msg:103", "agent_message", "41", base + 4 * minute, "api"));
  events.back()["agent"] = "9";
  auto note = message(104, "outgoing", "user", 9, 41, base + 5 * minute);
  note.is_private = true;
  bodies.push_back(replywatch::test::chatwoot_message_body(note));
  ChatwootStatusChange resolve;
  resolve.updated_at = static_cast<double>(base + 6 * minute) / 1000.0;
  bodies.push_back(replywatch::test::chatwoot_status_body(resolve));
  events.push_back(event("cw:conv:41:resolved:" + std::to_string(base + 6 * minute),
                         "conversation_closed", "41", base + 6 * minute, "api"));
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(105, "incoming", "contact", 77, 41, base + 10 * minute)));
  events.push_back(event("cw:msg:105", "buyer_message", "41", base + 10 * minute, "api"));
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(106, "outgoing", "user", 9, 41, base + 12 * minute)));
  events.push_back(event("cw:msg:106", "agent_message", "41", base + 12 * minute, "api"));
  events.back()["agent"] = "9";
  // Conversation 42 in a WhatsApp inbox: the buyer, a greeting template (not a counted bot), an
  // agent half an hour later: both SLAs breached.
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(201, "incoming", "contact", 78, 42, base + 20 * minute)));
  events.push_back(event("cw:msg:201", "buyer_message", "42", base + 20 * minute, "whatsapp"));
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(202, "template", "", 0, 42, base + 20 * minute + 1000)));
  events.push_back(event("cw:msg:202", "bot_message", "42", base + 20 * minute + 1000, "whatsapp"));
  events.back()["bot"] = "template";
  bodies.push_back(replywatch::test::chatwoot_message_body(
      message(203, "outgoing", "user", 9, 42, base + 50 * minute)));
  events.push_back(event("cw:msg:203", "agent_message", "42", base + 50 * minute, "whatsapp"));
  events.back()["agent"] = "9";

  // One request each, alternately, so that both daemons see the same pacing: the events are an
  // hour old (late), and each daemon decides the deadlines they passed between requests.
  REQUIRE(bodies.size() == events.size() + 1);
  std::size_t next_event = 0;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    const HttpReply reply = post_chatwoot(port, bodies[i]);
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    if (i == 3) continue;  // the private note: no event
    const HttpReply direct =
        http_call(daemons.direct->ingest_port(), "POST", "/v1/events",
                  json::serialize(events[next_event++]), {{"Content-Type", "application/json"}});
    REQUIRE(direct.status == 200);
  }

  // Deadlines already past are decided on the daemons' next timer turn.
  std::map<std::string, double> adapted;
  std::map<std::string, double> expected;
  for (int i = 0; i < 100; ++i) {
    adapted = chatwoot_figures(*daemons.adapted);
    expected = chatwoot_figures(*daemons.direct);
    if (adapted == expected && !adapted.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(adapted == expected);
  CHECK(adapted.at(
            R"(replywatch_sla_rounds_total{platform="chatwoot",shop="3",sla="first_reply_15m"})") ==
        3);
  CHECK(
      adapted.at(
          R"(replywatch_events_received_total{platform="chatwoot",type="conversation_closed"})") ==
      1);

  const auto metrics = rwtest::scrape(*daemons.adapted);
  CHECK(metrics.at(R"(replywatch_adapter_requests_total{adapter="support",outcome="ok"})") ==
        static_cast<double>(bodies.size()));

  SECTION("a body Chatwoot sends again is a duplicate") {
    const HttpReply again = post_chatwoot(port, bodies[0]);
    CHECK(again.status == 200);
    CHECK(json::parse(again.body) == json::parse(R"({"accepted":0,"duplicates":1,"rejected":[]})"));
  }
}

TEST_CASE("daemon_adapters: dry runs and refusals store nothing", "[daemon][adapters]") {
  Daemons daemons;
  const auto port = daemons.adapted->ingest_port();
  ChatwootMessage m;
  m.created_at = iso(rwtest::now_ms() - 60'000);
  const std::string body = replywatch::test::chatwoot_message_body(m);
  const std::string received =
      R"(replywatch_events_received_total{platform="chatwoot",type="buyer_message"})";
  auto stored = [&] {
    const auto metrics = rwtest::scrape(*daemons.adapted);
    return metrics.contains(received) ? metrics.at(received) : 0.0;
  };

  const HttpReply dry = post_chatwoot(port, body, "/v1/adapters/support?dry_run=true");
  REQUIRE(dry.status == 200);
  const json::object answer = json::parse(dry.body).as_object();
  CHECK(answer.at("accepted") == 1);
  REQUIRE(answer.at("events").as_array().size() == 1);
  CHECK(answer.at("events").as_array()[0].at("id") == "cw:msg:5012");

  CHECK(post_chatwoot(port, body, "/v1/adapters/nobody").status == 404);
  CHECK(post_chatwoot(port, body, "/v1/adapters/support", "wrong-secret").status == 401);
  CHECK(
      http_call(port, "POST", "/v1/adapters/support", body, {{"Content-Type", "application/json"}})
          .status == 401);
  const HttpReply shape = post_chatwoot(port, R"({"event":"message_created","id":9})");
  CHECK(shape.status == 422);
  CHECK(json::parse(shape.body).at("pointer") == "/message_type");
  CHECK(stored() == 0);

  // The dry run did not claim the id: the real request takes it.
  const HttpReply real = post_chatwoot(port, body);
  CHECK(real.status == 200);
  CHECK(json::parse(real.body).at("accepted") == 1);
  CHECK(stored() == 1);
  const auto metrics = rwtest::scrape(*daemons.adapted);
  for (const std::string outcome : {"dry_run", "unauthorized", "unprocessable", "ok"}) {
    INFO(outcome);
    CHECK(metrics.at("replywatch_adapter_requests_total{adapter=\"support\",outcome=\"" + outcome +
                     "\"}") == (outcome == "unauthorized" ? 2 : 1));
  }
}

TEST_CASE("daemon_adapters: an adapter naming a platform the rules lack stops the start",
          "[daemon][adapters]") {
  TempDir dir("adapters_platform");
  dir.write("rules/chatwoot.yaml", kChatwootRules);
  const std::string config =
      dir.write("config.yaml", "rules: " + dir.file("rules") + "\ndata: " + dir.file("data") +
                                   "\nadapters:\n  - {name: zd, kind: chatwoot, platform: zendesk, "
                                   "insecure: true}\n");
  DaemonProcess daemon({"--config", config}, false);
  CHECK(daemon.wait_exit(std::chrono::seconds(10)) == 1);
  CHECK(daemon.log().find("adapters[zd].platform: no loaded rule file has platform") !=
        std::string::npos);
}

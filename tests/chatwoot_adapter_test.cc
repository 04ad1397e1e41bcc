#include "chatwoot_adapter.h"

#include <catch2/catch.hpp>
#include <map>

#include "adapter_factory.h"
#include "chatwoot_bodies.h"
#include "hmac.h"
#include "replywatch/event_codec.h"

using replywatch::Instant;
using replywatch::adapters::AdapterRefusal;
using replywatch::adapters::AdapterRefusalKind;
using replywatch::adapters::AdapterRequest;
using replywatch::adapters::AdapterSettings;
using replywatch::adapters::MappedEvents;
using replywatch::test::ChatwootMessage;
using replywatch::test::ChatwootStatusChange;
namespace json = boost::json;

namespace {

// 2026-11-26T09:00:00Z
const Instant kNow = Instant(std::chrono::seconds(1795683600));

struct Request {
  std::map<std::string, std::string> headers;
  std::string body;

  AdapterRequest view() const {
    return {[this](std::string_view name) -> std::optional<std::string_view> {
              for (const auto& [key, value] : headers) {
                if (key.size() == name.size() &&
                    std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    })) {
                  return std::string_view(value);
                }
              }
              return std::nullopt;
            },
            body, kNow};
  }
};

std::unique_ptr<replywatch::adapters::Adapter> adapter(
    std::optional<std::string> account_id = std::nullopt,
    std::optional<std::string> secret = std::nullopt) {
  AdapterSettings settings{"support", "chatwoot", "chatwoot", std::move(secret), !secret};
  return replywatch::adapters::make_chatwoot(std::move(settings), {std::move(account_id)});
}

MappedEvents map_ok(const std::string& body, std::optional<std::string> account_id = std::nullopt) {
  const Request request{{}, body};
  auto mapped = adapter(std::move(account_id))->map(request.view());
  if (const auto* refusal = std::get_if<AdapterRefusal>(&mapped)) {
    FAIL("refused: " << refusal->reason << " at " << refusal->pointer);
  }
  auto events = std::get<MappedEvents>(std::move(mapped));
  // Every mapped event is a valid POST /v1/events event.
  for (const auto& event : events) {
    const auto decoded =
        replywatch::decode_event(event, [](std::string_view p) { return p == "chatwoot"; });
    INFO(json::serialize(event));
    CHECK(std::holds_alternative<replywatch::Event>(decoded));
  }
  return events;
}

json::object one_event(const std::string& body) {
  const MappedEvents events = map_ok(body);
  REQUIRE(events.size() == 1);
  return events[0].as_object();
}

AdapterRefusal refusal_of(const std::string& body,
                          std::optional<std::string> account_id = std::nullopt) {
  const Request request{{}, body};
  auto mapped = adapter(std::move(account_id))->map(request.view());
  REQUIRE(std::holds_alternative<AdapterRefusal>(mapped));
  return std::get<AdapterRefusal>(mapped);
}

ChatwootMessage outgoing(std::string sender_type, std::int64_t sender_id = 9) {
  ChatwootMessage m;
  m.message_type = "outgoing";
  m.sender_type = std::move(sender_type);
  m.sender_id = sender_id;
  return m;
}

}  // namespace

TEST_CASE("chatwoot: an incoming message is the buyer's", "[chatwoot]") {
  const json::object event = one_event(replywatch::test::chatwoot_message_body({}));
  CHECK(event == json::object{{"id", "cw:msg:5012"},
                              {"platform", "chatwoot"},
                              {"shop", "3"},
                              {"type", "buyer_message"},
                              {"conversation", "41"},
                              {"ts", "2026-11-26T09:15:02.120Z"},
                              {"channel", "api"}});
}

TEST_CASE("chatwoot: outgoing messages by who wrote them", "[chatwoot]") {
  SECTION("a user (agent) is an agent message with the user's id") {
    const json::object event = one_event(replywatch::test::chatwoot_message_body(outgoing("user")));
    CHECK(event.at("type") == "agent_message");
    CHECK(event.at("agent") == "9");
  }
  SECTION("an external echo (sent from the channel's own app) is an agent without an id") {
    ChatwootMessage m = outgoing("");
    m.content_attributes = {{"external_echo", true}};
    const json::object event = one_event(replywatch::test::chatwoot_message_body(m));
    CHECK(event.at("type") == "agent_message");
    CHECK_FALSE(event.contains("agent"));
  }
  SECTION("an agent bot") {
    const json::object event =
        one_event(replywatch::test::chatwoot_message_body(outgoing("agent_bot", 5)));
    CHECK(event.at("type") == "bot_message");
    CHECK(event.at("bot") == "agent_bot:5");
  }
  SECTION("a Captain assistant") {
    const json::object event =
        one_event(replywatch::test::chatwoot_message_body(outgoing("captain_assistant", 2)));
    CHECK(event.at("bot") == "captain:2");
  }
  SECTION("an automation rule's message") {
    ChatwootMessage m = outgoing("");
    m.content_attributes = {{"automation_rule_id", 17}};
    CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("bot") == "automation");
  }
  SECTION("a campaign's message") {
    ChatwootMessage m = outgoing("");
    m.additional_attributes = {{"campaign_id", 4}};
    CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("bot") == "campaign");
  }
  SECTION("an outgoing message without a sender is the system's") {
    CHECK(one_event(replywatch::test::chatwoot_message_body(outgoing(""))).at("bot") == "system");
  }
  SECTION("a sender named only by the message's sender_type (push data)") {
    json::object body =
        json::parse(replywatch::test::chatwoot_message_body(outgoing(""))).as_object();
    body["sender_type"] = "AgentBot";
    body["sender_id"] = 6;
    CHECK(one_event(json::serialize(body)).at("bot") == "agent_bot:6");
  }
}

TEST_CASE("chatwoot: template messages are a bot's", "[chatwoot]") {
  ChatwootMessage m;
  m.message_type = "template";
  m.sender_type = "";
  CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("bot") == "template");
  m.sender_type = "agent_bot";
  m.sender_id = 5;
  CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("bot") == "agent_bot:5");
}

TEST_CASE("chatwoot: what maps to nothing", "[chatwoot]") {
  SECTION("a private note") {
    ChatwootMessage m = outgoing("user");
    m.is_private = true;
    CHECK(map_ok(replywatch::test::chatwoot_message_body(m)).empty());
  }
  SECTION("an activity message") {
    ChatwootMessage m;
    m.message_type = "activity";
    m.sender_type = "";
    CHECK(map_ok(replywatch::test::chatwoot_message_body(m)).empty());
  }
  SECTION("message_updated") {
    ChatwootMessage m;
    m.event = "message_updated";
    CHECK(map_ok(replywatch::test::chatwoot_message_body(m)).empty());
  }
  SECTION("other events") {
    CHECK(map_ok(R"({"event":"conversation_created","id":41})").empty());
    CHECK(map_ok(R"({"event":"contact_updated","id":77})").empty());
    CHECK(map_ok(R"({"event":"conversation_typing_on"})").empty());
  }
  SECTION("a status change to anything but resolved") {
    ChatwootStatusChange change;
    change.status = "open";
    CHECK(map_ok(replywatch::test::chatwoot_status_body(change)).empty());
    change.status = "pending";
    CHECK(map_ok(replywatch::test::chatwoot_status_body(change)).empty());
  }
}

TEST_CASE("chatwoot: resolving a conversation closes it at updated_at", "[chatwoot]") {
  const json::object event = one_event(replywatch::test::chatwoot_status_body({}));
  // 1795684800.5571 s: milliseconds kept, the rest truncated.
  CHECK(event == json::object{{"id", "cw:conv:41:resolved:1795684800557"},
                              {"platform", "chatwoot"},
                              {"shop", "3"},
                              {"type", "conversation_closed"},
                              {"conversation", "41"},
                              {"ts", "2026-11-26T09:20:00.557Z"},
                              {"channel", "api"}});
}

TEST_CASE("chatwoot: each timestamp format", "[chatwoot]") {
  SECTION("created_at as integer Unix seconds") {
    json::object body = json::parse(replywatch::test::chatwoot_message_body({})).as_object();
    body["created_at"] = 1795684502;
    CHECK(one_event(json::serialize(body)).at("ts") == "2026-11-26T09:15:02.000Z");
  }
  SECTION("created_at with an offset and microseconds") {
    ChatwootMessage m;
    m.created_at = "2026-11-26T17:15:02.120999+08:00";
    CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("ts") ==
          "2026-11-26T09:15:02.120Z");
  }
  SECTION("a float updated_at that binary floating point cannot hold exactly") {
    ChatwootStatusChange change;
    change.updated_at = 1795684800.123;
    CHECK(one_event(replywatch::test::chatwoot_status_body(change)).at("ts") ==
          "2026-11-26T09:20:00.123Z");
  }
  SECTION("an integer updated_at") {
    ChatwootStatusChange change;
    change.updated_at = 1795684800;
    CHECK(one_event(replywatch::test::chatwoot_status_body(change)).at("id") ==
          "cw:conv:41:resolved:1795684800000");
  }
  SECTION("no updated_at (an older Chatwoot): the conversation's timestamp") {
    ChatwootStatusChange change;
    change.updated_at = nullptr;
    CHECK(one_event(replywatch::test::chatwoot_status_body(change)).at("ts") ==
          "2026-11-26T09:15:02.000Z");
  }
}

TEST_CASE("chatwoot: channels in snake case without Channel::", "[chatwoot]") {
  for (const auto& [type, name] :
       std::vector<std::pair<std::string, std::string>>{{"Channel::WebWidget", "web_widget"},
                                                        {"Channel::FacebookPage", "facebook_page"},
                                                        {"Channel::Whatsapp", "whatsapp"},
                                                        {"Channel::TwilioSms", "twilio_sms"},
                                                        {"Channel::Email", "email"}}) {
    ChatwootMessage m;
    m.channel = type;
    CHECK(one_event(replywatch::test::chatwoot_message_body(m)).at("channel") == json::value(name));
  }
}

TEST_CASE("chatwoot: unknown keys are ignored", "[chatwoot]") {
  json::object body = json::parse(replywatch::test::chatwoot_message_body({})).as_object();
  body["a_future_field"] = json::object{{"nested", json::array{1, 2}}};
  body["conversation"].as_object()["kanban_state"] = nullptr;
  body["account"].as_object()["plan"] = "enterprise";
  CHECK(one_event(json::serialize(body)).at("type") == "buyer_message");
}

TEST_CASE("chatwoot: bodies without an account", "[chatwoot]") {
  ChatwootStatusChange older;
  older.account_object = false;
  SECTION("a conversation event takes it from its messages") {
    CHECK(one_event(replywatch::test::chatwoot_status_body(older)).at("shop") == "3");
  }
  SECTION("with no messages either, the configured account_id") {
    older.account_in_messages = std::nullopt;
    const std::string body = replywatch::test::chatwoot_status_body(older);
    CHECK(refusal_of(body).pointer == "/account");
    CHECK(map_ok(body, "3")[0].at("shop") == "3");
  }
  SECTION("a message without account") {
    ChatwootMessage m;
    m.account = std::nullopt;
    const std::string body = replywatch::test::chatwoot_message_body(m);
    CHECK(refusal_of(body).kind == AdapterRefusalKind::kUnprocessable);
    CHECK(map_ok(body, "3")[0].at("shop") == "3");
  }
  SECTION("a body from another account than the configured one is refused") {
    const AdapterRefusal refusal = refusal_of(replywatch::test::chatwoot_message_body({}), "4");
    CHECK(refusal.pointer == "/account/id");
    CHECK_THAT(refusal.reason, Catch::Contains("account 3"));
  }
}

TEST_CASE("chatwoot: bodies that are not Chatwoot's shape get 422 with a pointer", "[chatwoot]") {
  CHECK(refusal_of("{\"event\": ").pointer.empty());
  CHECK(refusal_of("[1, 2]").pointer.empty());
  CHECK(refusal_of(R"({"id": 5})").pointer == "/event");
  CHECK(refusal_of(R"({"event": 5})").pointer == "/event");
  auto broken = [](auto change) {
    json::object body = json::parse(replywatch::test::chatwoot_message_body({})).as_object();
    change(body);
    return refusal_of(json::serialize(body));
  };
  CHECK(broken([](json::object& b) { b["message_type"] = "sideways"; }).pointer == "/message_type");
  CHECK(broken([](json::object& b) { b.erase("id"); }).pointer == "/id");
  CHECK(broken([](json::object& b) { b["conversation"].as_object().erase("id"); }).pointer ==
        "/conversation/id");
  CHECK(broken([](json::object& b) { b.erase("conversation"); }).pointer == "/conversation");
  CHECK(broken([](json::object& b) { b["created_at"] = "yesterday"; }).pointer == "/created_at");
  CHECK(broken([](json::object& b) { b["private"] = "no"; }).pointer == "/private");
  CHECK(broken([](json::object& b) {
          b["account"] = json::object{{"id", true}};
        }).pointer == "/account/id");
  ChatwootStatusChange change;
  change.updated_at = "soon";
  CHECK(refusal_of(replywatch::test::chatwoot_status_body(change)).pointer == "/updated_at");
}

TEST_CASE("chatwoot: signatures", "[chatwoot]") {
  const std::string secret = "cw-secret";
  const auto signed_adapter = adapter(std::nullopt, secret);
  const std::string body = replywatch::test::chatwoot_message_body({});
  const std::string timestamp = "1795683590";
  auto sign = [&](std::string_view key, std::string_view ts, std::string_view text) {
    return "sha256=" + replywatch::adapters::to_lower_hex(
                           replywatch::adapters::hmac_sha256(key, {ts, ".", text}));
  };
  Request request{{{"X-Chatwoot-Timestamp", timestamp},
                   {"X-Chatwoot-Signature", sign(secret, timestamp, body)},
                   {"Content-Type", "application/json"}},
                  body};
  SECTION("good") {
    CHECK_FALSE(signed_adapter->check_headers(request.view()));
    CHECK_FALSE(signed_adapter->authenticate(request.view()));
  }
  SECTION("header names are case-insensitive") {
    request.headers = {{"x-chatwoot-timestamp", timestamp},
                       {"x-chatwoot-signature", sign(secret, timestamp, body)}};
    CHECK_FALSE(signed_adapter->authenticate(request.view()));
  }
  SECTION("wrong secret") {
    request.headers["X-Chatwoot-Signature"] = sign("other", timestamp, body);
    CHECK_FALSE(signed_adapter->check_headers(request.view()));
    const auto refusal = signed_adapter->authenticate(request.view());
    REQUIRE(refusal);
    CHECK(refusal->kind == AdapterRefusalKind::kUnauthorized);
  }
  SECTION("tampered body") {
    request.body = body + " ";
    CHECK(signed_adapter->authenticate(request.view()));
  }
  SECTION("stale, either way") {
    for (const std::string ts : {"1795683299", "1795683901"}) {
      request.headers["X-Chatwoot-Timestamp"] = ts;
      request.headers["X-Chatwoot-Signature"] = sign(secret, ts, body);
      const auto refusal = signed_adapter->check_headers(request.view());
      REQUIRE(refusal);
      CHECK_THAT(refusal->reason, Catch::Contains("300 s"));
      CHECK(signed_adapter->authenticate(request.view()));
    }
    request.headers["X-Chatwoot-Timestamp"] = "1795683300";  // exactly 300 s: still fresh
    request.headers["X-Chatwoot-Signature"] = sign(secret, "1795683300", body);
    CHECK_FALSE(signed_adapter->authenticate(request.view()));
  }
  SECTION("missing") {
    request.headers.erase("X-Chatwoot-Signature");
    CHECK(signed_adapter->check_headers(request.view()));
    CHECK(signed_adapter->authenticate(request.view()));
    request.headers = {};
    CHECK(signed_adapter->authenticate(request.view()));
  }
  SECTION("not Unix seconds, or not sha256=") {
    request.headers["X-Chatwoot-Timestamp"] = "2026-11-26T09:00:00Z";
    CHECK(signed_adapter->check_headers(request.view()));
    request.headers["X-Chatwoot-Timestamp"] = timestamp;
    request.headers["X-Chatwoot-Signature"] = sign(secret, timestamp, body).substr(7);
    CHECK(signed_adapter->check_headers(request.view()));
  }
  SECTION("insecure: nothing is checked") {
    request.headers = {};
    CHECK_FALSE(adapter()->authenticate(request.view()));
  }
}

TEST_CASE("chatwoot: the factory reads account_id and refuses unknown keys", "[chatwoot]") {
  const YAML::Node entry = YAML::Load(
      "{name: support, kind: chatwoot, platform: chatwoot, insecure: true, account_id: 3}");
  std::vector<std::string> errors;
  auto at = [](const YAML::Mark& mark) { return "c.yaml:" + std::to_string(mark.line + 1); };
  AdapterSettings settings{"support", "chatwoot", "chatwoot", std::nullopt, true};
  auto made = replywatch::adapters::make_chatwoot_adapter(settings, entry, at, errors);
  REQUIRE(made);
  CHECK(errors.empty());
  ChatwootMessage m;
  m.account = std::nullopt;
  const Request request{{}, replywatch::test::chatwoot_message_body(m)};
  auto mapped = made->map(request.view());
  REQUIRE(std::holds_alternative<MappedEvents>(mapped));
  CHECK(std::get<MappedEvents>(mapped)[0].at("shop") == "3");

  const YAML::Node bad = YAML::Load("{name: support, kind: chatwoot, acount_id: 3}");
  CHECK_FALSE(replywatch::adapters::make_chatwoot_adapter(settings, bad, at, errors));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("unknown key \"acount_id\""));
}

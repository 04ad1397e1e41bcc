#include "replywatch/event_codec.h"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <variant>

#include "replywatch/event.h"
#include "replywatch/time.h"

using replywatch::decode_event;
using replywatch::decode_event_text;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Rejection;
using replywatch::RejectReason;

namespace {

// 2026-11-22T15:00:00Z in epoch milliseconds.
constexpr std::int64_t k20261122T15 = 1795359600000;

const replywatch::PlatformKnown kKnown = [](std::string_view platform) {
  return platform == "tmall" || platform == "jd";
};

// An event as field name -> raw JSON value, so tests can drop or replace one field.
using Fields = std::map<std::string, std::string>;

std::string to_json(const Fields& fields) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, raw] : fields) {
    if (!first) out += ",";
    first = false;
    out += "\"" + name + "\":" + raw;
  }
  return out + "}";
}

std::string q(const std::string& s) { return "\"" + s + "\""; }

Fields buyer_fields() {
  return {{"id", q("m1")},           {"platform", q("tmall")},
          {"shop", q("s1")},         {"type", q("buyer_message")},
          {"conversation", q("c1")}, {"ts", q("2026-11-22T15:00:00Z")}};
}

Fields status_fields() {
  return {{"id", q("st1")},
          {"platform", q("tmall")},
          {"shop", q("s1")},
          {"type", q("agent_status")},
          {"agent", q("a1")},
          {"status", q("online")},
          {"ts", q("2026-11-22T15:00:00Z")}};
}

Fields bot_fields() {
  Fields f = buyer_fields();
  f["type"] = q("bot_message");
  f["bot"] = q("leyan");
  return f;
}

Event accept(const std::string& text) {
  INFO(text);
  auto result = decode_event_text(text, kKnown);
  if (auto* rejection = std::get_if<Rejection>(&result)) {
    FAIL("rejected: " << replywatch::reject_reason_name(rejection->reason) << " field "
                      << std::string(rejection->field));
  }
  return std::get<Event>(result);
}

Rejection reject(const std::string& text) {
  INFO(text);
  auto result = decode_event_text(text, kKnown);
  REQUIRE(std::holds_alternative<Rejection>(result));
  return std::get<Rejection>(result);
}

std::string reason(const std::string& text) {
  return std::string(replywatch::reject_reason_name(reject(text).reason));
}

std::string repeat(const std::string& unit, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += unit;
  return out;
}

}  // namespace

TEST_CASE("event_codec: reject reason names", "[event_codec]") {
  CHECK(replywatch::reject_reason_name(RejectReason::kBadJson) == "bad_json");
  CHECK(replywatch::reject_reason_name(RejectReason::kNotAnObject) == "not_an_object");
  CHECK(replywatch::reject_reason_name(RejectReason::kMissingField) == "missing_field");
  CHECK(replywatch::reject_reason_name(RejectReason::kBadField) == "bad_field");
  CHECK(replywatch::reject_reason_name(RejectReason::kUnknownPlatform) == "unknown_platform");
  CHECK(replywatch::reject_reason_name(RejectReason::kTooFarInFuture) == "too_far_in_future");
  CHECK(replywatch::event_type_name(EventType::kBuyerMessage) == "buyer_message");
  CHECK(replywatch::event_type_name(EventType::kAgentMessage) == "agent_message");
  CHECK(replywatch::event_type_name(EventType::kBotMessage) == "bot_message");
  CHECK(replywatch::event_type_name(EventType::kConversationClosed) == "conversation_closed");
  CHECK(replywatch::event_type_name(EventType::kAgentStatus) == "agent_status");
}

TEST_CASE("event_codec: a full buyer message decodes", "[event_codec]") {
  const Event e = accept(to_json(buyer_fields()));
  CHECK(e.id == "m1");
  CHECK(e.platform == "tmall");
  CHECK(e.shop == "s1");
  CHECK(e.type == EventType::kBuyerMessage);
  CHECK(e.conversation == "c1");
  CHECK(e.channel == "chat");  // default when absent
  CHECK(e.ts.time_since_epoch().count() == k20261122T15);
}

TEST_CASE("event_codec: bad_json and not_an_object", "[event_codec]") {
  CHECK(reason("not json") == "bad_json");
  CHECK(reason("{") == "bad_json");
  CHECK(reason("{\"id\":\"m1\",}") == "bad_json");  // trailing comma
  CHECK(reason("[1,2]") == "not_an_object");
  CHECK(reason("42") == "not_an_object");
  CHECK(reason("\"text\"") == "not_an_object");
  CHECK(reason("null") == "not_an_object");
  CHECK(reason("[" + to_json(buyer_fields()) + "]") == "not_an_object");  // one object per line
}

TEST_CASE("event_codec: decode_event takes a parsed value", "[event_codec]") {
  const boost::json::value value = boost::json::parse(to_json(buyer_fields()));
  auto ok = decode_event(value, kKnown);
  REQUIRE(std::holds_alternative<Event>(ok));
  CHECK(std::get<Event>(ok).id == "m1");
  const boost::json::value array = boost::json::parse("[1]");
  auto bad = decode_event(array, kKnown);
  REQUIRE(std::holds_alternative<Rejection>(bad));
  CHECK(std::get<Rejection>(bad).reason == RejectReason::kNotAnObject);
}

TEST_CASE("event_codec: missing required fields", "[event_codec]") {
  for (const char* field : {"id", "platform", "shop", "type", "conversation", "ts"}) {
    Fields f = buyer_fields();
    f.erase(field);
    INFO(field);
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == field);
  }
}

TEST_CASE("event_codec: conversation is required for all types but agent_status", "[event_codec]") {
  for (const char* type : {"buyer_message", "agent_message", "conversation_closed"}) {
    Fields f = buyer_fields();
    f["type"] = q(type);
    f.erase("conversation");
    INFO(type);
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == "conversation");
  }
  Fields bot = bot_fields();
  bot.erase("conversation");
  CHECK(reject(to_json(bot)).field == "conversation");
  // agent_status needs no conversation
  const Event e = accept(to_json(status_fields()));
  CHECK(e.type == EventType::kAgentStatus);
  CHECK(e.conversation.empty());
}

TEST_CASE("event_codec: bot is required on bot_message", "[event_codec]") {
  const Event e = accept(to_json(bot_fields()));
  CHECK(e.type == EventType::kBotMessage);
  CHECK(e.bot == "leyan");
  Fields f = bot_fields();
  f.erase("bot");
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kMissingField);
  CHECK(r.field == "bot");
  f["bot"] = "7";  // not a string
  CHECK(reason(to_json(f)) == "bad_field");
}

TEST_CASE("event_codec: agent_status needs agent and status", "[event_codec]") {
  {
    const Event e = accept(to_json(status_fields()));
    CHECK(e.agent == "a1");
    CHECK(e.online);
  }
  {
    Fields f = status_fields();
    f["status"] = q("offline");
    const Event e = accept(to_json(f));
    CHECK_FALSE(e.online);
  }
  {
    Fields f = status_fields();
    f.erase("agent");
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == "agent");
  }
  {
    Fields f = status_fields();
    f.erase("status");
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == "status");
  }
  {
    Fields f = status_fields();
    f["status"] = q("away");  // only online or offline
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kBadField);
    CHECK(r.field == "status");
  }
  {
    Fields f = status_fields();
    f["status"] = "true";  // not a string
    CHECK(reason(to_json(f)) == "bad_field");
  }
}

TEST_CASE("event_codec: agent is optional on agent_message", "[event_codec]") {
  Fields f = buyer_fields();
  f["type"] = q("agent_message");
  const Event without = accept(to_json(f));
  CHECK(without.type == EventType::kAgentMessage);
  CHECK(without.agent.empty());
  f["agent"] = q("a7");
  const Event with = accept(to_json(f));
  CHECK(with.agent == "a7");
}

TEST_CASE("event_codec: conversation_closed decodes", "[event_codec]") {
  Fields f = buyer_fields();
  f["type"] = q("conversation_closed");
  const Event e = accept(to_json(f));
  CHECK(e.type == EventType::kConversationClosed);
  CHECK(e.conversation == "c1");
}

TEST_CASE("event_codec: unknown platform", "[event_codec]") {
  Fields f = buyer_fields();
  f["platform"] = q("taobao");
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kUnknownPlatform);
  f["platform"] = "1";  // not a string at all
  CHECK(reason(to_json(f)) == "bad_field");
  f["platform"] = q("jd");
  CHECK(accept(to_json(f)).platform == "jd");
}

TEST_CASE("event_codec: bad type", "[event_codec]") {
  Fields f = buyer_fields();
  f["type"] = q("buyer");
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kBadField);
  CHECK(r.field == "type");
  f["type"] = q("BUYER_MESSAGE");  // names are exact
  CHECK(reason(to_json(f)) == "bad_field");
  f["type"] = "3";
  CHECK(reason(to_json(f)) == "bad_field");
}

TEST_CASE("event_codec: id length is 1..128 UTF-8 bytes", "[event_codec]") {
  Fields f = buyer_fields();
  f["id"] = q(repeat("a", 128));
  CHECK(accept(to_json(f)).id.size() == 128);
  f["id"] = q(repeat("a", 129));
  Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kBadField);
  CHECK(r.field == "id");
  f["id"] = q("");
  CHECK(reason(to_json(f)) == "bad_field");
  // "€" is 3 bytes: 42 of them are 126 bytes (ok), 43 are 129 bytes though only 43 characters
  f["id"] = q(repeat("\xE2\x82\xAC", 42));
  CHECK(accept(to_json(f)).id.size() == 126);
  f["id"] = q(repeat("\xE2\x82\xAC", 43));
  CHECK(reason(to_json(f)) == "bad_field");
  // "é" is 2 bytes: 64 are exactly 128 bytes, 65 are 130
  f["id"] = q(repeat("\xC3\xA9", 64));
  CHECK(accept(to_json(f)).id.size() == 128);
  f["id"] = q(repeat("\xC3\xA9", 65));
  CHECK(reason(to_json(f)) == "bad_field");
  // a JSON escape counts as the bytes it decodes to: \u00e9 x 65 = 130 bytes
  f["id"] = q(repeat("\\u00e9", 65));
  CHECK(reason(to_json(f)) == "bad_field");
  f["id"] = "17";  // not a string
  CHECK(reason(to_json(f)) == "bad_field");
}

TEST_CASE("event_codec: shop length is 1..128 bytes", "[event_codec]") {
  Fields f = buyer_fields();
  f["shop"] = q(repeat("s", 128));
  CHECK(accept(to_json(f)).shop.size() == 128);
  f["shop"] = q(repeat("s", 129));
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kBadField);
  CHECK(r.field == "shop");
  f["shop"] = q("");
  CHECK(reason(to_json(f)) == "bad_field");
  // 43 three-byte characters: 129 bytes
  f["shop"] = q(repeat("\xE5\xBA\x97", 43));
  CHECK(reason(to_json(f)) == "bad_field");
}

TEST_CASE("event_codec: conversation length is 1..256 bytes", "[event_codec]") {
  Fields f = buyer_fields();
  f["conversation"] = q(repeat("c", 256));
  CHECK(accept(to_json(f)).conversation.size() == 256);
  f["conversation"] = q(repeat("c", 257));
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kBadField);
  CHECK(r.field == "conversation");
  f["conversation"] = q("");
  CHECK(reason(to_json(f)) == "bad_field");
  // 86 three-byte characters: 258 bytes
  f["conversation"] = q(repeat("\xE4\xB9\xB0", 86));
  CHECK(reason(to_json(f)) == "bad_field");
  // 85 three-byte characters: 255 bytes
  f["conversation"] = q(repeat("\xE4\xB9\xB0", 85));
  CHECK(accept(to_json(f)).conversation.size() == 255);
}

TEST_CASE("event_codec: ts as RFC 3339 or integer epoch milliseconds", "[event_codec]") {
  Fields f = buyer_fields();
  f["ts"] = std::to_string(k20261122T15 + 42);
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == k20261122T15 + 42);
  f["ts"] = q("2026-11-22T23:00:00.123+08:00");
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == k20261122T15 + 123);
  f["ts"] = q("2026-11-22t15:00:00.9999z");  // lowercase, truncated to .999
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == k20261122T15 + 999);
  f["ts"] = std::to_string(replywatch::kMaxEpochMillis);  // the latest allowed instant
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == replywatch::kMaxEpochMillis);
}

TEST_CASE("event_codec: bad ts", "[event_codec]") {
  Fields f = buyer_fields();
  for (const std::string& raw :
       {q("2026-02-30T00:00:00Z"), q("2026-11-22T24:00:00Z"), q("2026-11-22T15:00:00"),
        q("yesterday"), q("1795359600000"), std::string("1795359600000.5"), std::string("true"),
        std::string("{}"), std::to_string(replywatch::kMaxEpochMillis + 1)}) {
    f["ts"] = raw;
    INFO(raw);
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kBadField);
    CHECK(r.field == "ts");
  }
}

TEST_CASE("event_codec: channel defaults to chat", "[event_codec]") {
  Fields f = buyer_fields();
  CHECK(accept(to_json(f)).channel == "chat");
  f["channel"] = q("email");
  CHECK(accept(to_json(f)).channel == "email");
  f["channel"] = "5";
  const Rejection r = reject(to_json(f));
  CHECK(r.reason == RejectReason::kBadField);
  CHECK(r.field == "channel");
}

TEST_CASE("event_codec: unknown fields are ignored", "[event_codec]") {
  Fields f = buyer_fields();
  f["x_future"] = "{\"nested\":[1,2,3]}";
  f["priority"] = "9";
  f["note"] = "null";
  const Event e = accept(to_json(f));
  CHECK(e.id == "m1");
  CHECK(e.type == EventType::kBuyerMessage);
}

TEST_CASE("event_codec: the first problem in table order is reported", "[event_codec]") {
  {
    // bad id comes before the unknown platform
    Fields f = buyer_fields();
    f["id"] = q("");
    f["platform"] = q("taobao");
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kBadField);
    CHECK(r.field == "id");
  }
  {
    // unknown platform comes before the missing conversation
    Fields f = buyer_fields();
    f["platform"] = q("taobao");
    f.erase("conversation");
    CHECK(reject(to_json(f)).reason == RejectReason::kUnknownPlatform);
  }
  {
    // missing type comes before the bad ts
    Fields f = buyer_fields();
    f.erase("type");
    f["ts"] = q("nope");
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == "type");
  }
  {
    // missing conversation comes before the bad ts
    Fields f = buyer_fields();
    f.erase("conversation");
    f["ts"] = q("nope");
    const Rejection r = reject(to_json(f));
    CHECK(r.reason == RejectReason::kMissingField);
    CHECK(r.field == "conversation");
  }
}

TEST_CASE("event_codec: bot, agent and channel have no length limits of their own",
          "[event_codec]") {
  // The event format bounds only id, shop and conversation; these are plain strings.
  Fields bot = bot_fields();
  bot["bot"] = q(repeat("b", 300));
  CHECK(accept(to_json(bot)).bot.size() == 300);
  bot["bot"] = q("");
  CHECK(accept(to_json(bot)).bot.empty());

  Fields agent = buyer_fields();
  agent["type"] = q("agent_message");
  agent["agent"] = q(repeat("a", 300));
  CHECK(accept(to_json(agent)).agent.size() == 300);
  agent["agent"] = q("");
  CHECK(accept(to_json(agent)).type == EventType::kAgentMessage);

  Fields channel = buyer_fields();
  channel["channel"] = q(repeat("c", 200));
  CHECK(accept(to_json(channel)).channel.size() == 200);
}

TEST_CASE("event_codec: an integral JSON number is epoch milliseconds too", "[event_codec]") {
  Fields f = buyer_fields();
  f["ts"] = "1795359600000.0";
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == k20261122T15);
  f["ts"] = "1.7953596e12";
  CHECK(accept(to_json(f)).ts.time_since_epoch().count() == 1795359600000);
  f["ts"] = "-1.0";
  CHECK(reason(to_json(f)) == "bad_field");
}

namespace {

// decode_event_text(encode_event(e)) must give back e, field by field.
void check_round_trip(const Event& e) {
  const std::string text = replywatch::encode_event(e);
  INFO(text);
  const Event back = accept(text);
  CHECK(back.id == e.id);
  CHECK(back.platform == e.platform);
  CHECK(back.shop == e.shop);
  CHECK(back.conversation == e.conversation);
  CHECK(back.bot == e.bot);
  CHECK(back.agent == e.agent);
  CHECK(back.channel == e.channel);
  CHECK(back.type == e.type);
  CHECK(back.online == e.online);
  CHECK(back.ts == e.ts);
}

Event base_event(EventType type) {
  Event e;
  e.id = "m-17";
  e.platform = "tmall";
  e.shop = "s1";
  e.conversation = type == EventType::kAgentStatus ? "" : "buyer-42";
  e.type = type;
  e.ts = replywatch::Instant(replywatch::Duration(k20261122T15 + 123));
  return e;
}

}  // namespace

TEST_CASE("event_codec: encode_event round trips a buyer message", "[event_codec]") {
  check_round_trip(base_event(EventType::kBuyerMessage));
}

TEST_CASE("event_codec: encode_event round trips an agent message with and without agent",
          "[event_codec]") {
  Event with = base_event(EventType::kAgentMessage);
  with.agent = "agent-7";
  check_round_trip(with);
  CHECK_THAT(replywatch::encode_event(with), Catch::Contains("\"agent\":\"agent-7\""));
  const Event without = base_event(EventType::kAgentMessage);
  check_round_trip(without);
  CHECK_THAT(replywatch::encode_event(without), !Catch::Contains("\"agent\""));
}

TEST_CASE("event_codec: encode_event round trips a bot message", "[event_codec]") {
  Event e = base_event(EventType::kBotMessage);
  e.bot = "leyan";
  check_round_trip(e);
  e.bot = "";  // an empty bot name is a valid one
  check_round_trip(e);
}

TEST_CASE("event_codec: encode_event round trips conversation_closed", "[event_codec]") {
  check_round_trip(base_event(EventType::kConversationClosed));
}

TEST_CASE("event_codec: encode_event round trips agent_status online and offline",
          "[event_codec]") {
  Event e = base_event(EventType::kAgentStatus);
  e.agent = "agent-7";
  e.online = true;
  check_round_trip(e);
  e.online = false;
  check_round_trip(e);
  CHECK_THAT(replywatch::encode_event(e), Catch::Contains("\"status\":\"offline\""));
  CHECK_THAT(replywatch::encode_event(e), !Catch::Contains("\"conversation\""));
}

TEST_CASE("event_codec: encode_event keeps a channel other than chat", "[event_codec]") {
  for (const EventType type :
       {EventType::kBuyerMessage, EventType::kAgentMessage, EventType::kBotMessage,
        EventType::kConversationClosed, EventType::kAgentStatus}) {
    Event e = base_event(type);
    if (type == EventType::kBotMessage) e.bot = "xiaoduo";
    if (type == EventType::kAgentStatus) e.agent = "agent-7";
    e.channel = "email";
    INFO(replywatch::event_type_name(type));
    check_round_trip(e);
    CHECK_THAT(replywatch::encode_event(e), Catch::Contains("\"channel\":\"email\""));
    e.channel = "";
    check_round_trip(e);
  }
  // The default is left out.
  CHECK_THAT(replywatch::encode_event(base_event(EventType::kBuyerMessage)),
             !Catch::Contains("channel"));
}

TEST_CASE("event_codec: encode_event round trips text that needs escaping and the extreme ts",
          "[event_codec]") {
  Event e = base_event(EventType::kBuyerMessage);
  e.id = "id \"quoted\" \\ back\tslash\n";
  e.shop = "\xE5\xBA\x97\xE9\x93\xBA";  // 店铺
  e.conversation = std::string("nul\0byte", 8);
  check_round_trip(e);
  e.ts = replywatch::Instant(replywatch::Duration(0));
  check_round_trip(e);
  e.ts = replywatch::Instant(replywatch::Duration(replywatch::kMaxEpochMillis));
  check_round_trip(e);
}

// The mapping adapter (docs/adapters.md, "Mapping"): the two worked examples of the docs (a
// Freshdesk automation rule and a Douyin message bridge) mapped exactly, every way a field can
// be given, timestamps, refusals with their pointers, config errors with their positions.
#include "mapping_adapter.h"

#include <catch2/catch.hpp>
#include <string>

#include "adapter_test_support.h"
#include "hmac.h"

namespace {

using namespace replywatch::adapters;
using namespace replywatch::adapters::testing;
using replywatch::Instant;

const Instant kNow = at_time("2026-11-20T01:16:40Z");  // 1795137400

std::unique_ptr<Adapter> make(std::string_view yaml, std::optional<std::string> secret = {}) {
  const YAML::Node entry = YAML::Load(std::string(yaml));
  AdapterSettings settings{entry["name"].as<std::string>(), "mapping",
                           entry["platform"].as<std::string>(), std::move(secret), !secret};
  std::vector<std::string> errors;
  auto adapter = make_mapping_adapter(settings, entry, config_position, errors);
  for (const auto& error : errors) UNSCOPED_INFO(error);
  REQUIRE(errors.empty());
  REQUIRE(adapter != nullptr);
  return adapter;
}

std::vector<std::string> config_errors(std::string_view yaml) {
  const YAML::Node entry = YAML::Load(std::string(yaml));
  AdapterSettings settings{"bridge", "mapping", "douyin", std::nullopt, true};
  std::vector<std::string> errors;
  const auto adapter = make_mapping_adapter(settings, entry, config_position, errors);
  CHECK((adapter == nullptr) == !errors.empty());
  return errors;
}

// docs/adapters.md, "Example: Freshdesk automation rules".
constexpr std::string_view kFreshdeskConfig = R"(
name: freshdesk
kind: mapping
platform: freshdesk
secret_file: /etc/replywatch/freshdesk.token
auth: bearer
fields:
  id: {body_digest: true, prefix: "fd:"}
  shop: acme-parts
  conversation: {pointer: /ticket_id, prefix: "fd-"}
  type:
    pointer: /sender_role
    values: {customer: buyer_message, agent: agent_message, resolved: conversation_closed}
  agent: {pointer: /agent_email}
  channel: email
  ts: {received: true}
)";

// docs/adapters.md, "Example: a Douyin message bridge".
constexpr std::string_view kDouyinConfig = R"(
name: douyin
kind: mapping
platform: douyin
secret_file: /etc/replywatch/douyin-bridge.secret
events: /data/messages
fields:
  id: {pointer: /msg_id, prefix: "dy:"}
  shop: {body_pointer: /data/shop_id}
  conversation: {pointer: /conversation_id}
  type:
    pointer: /sender_role
    values: {buyer: buyer_message, staff: agent_message, robot: bot_message, system: ~}
  bot: {pointer: /robot_name}
  agent: {pointer: /staff_id}
  ts: {pointer: /create_time}
)";

constexpr std::string_view kDouyinPush = R"({
  "event": "im_message_push",
  "data": {
    "shop_id": 7300118822,
    "messages": [
      {"msg_id": "7301939411234567890", "conversation_id": "c_88231", "sender_role": "buyer",
       "create_time": 1795137302, "content": {"text": "发货了吗？"}, "buyer_nick": "tb_ann"},
      {"msg_id": "7301939411234567891", "conversation_id": "c_88231", "sender_role": "system",
       "create_time": 1795137302, "content": {"text": "买家已进入店铺"}},
      {"msg_id": "7301939411234567892", "conversation_id": "c_88231", "sender_role": "robot",
       "robot_name": "feige_assistant", "create_time": 1795137304, "content": {"text": "您好"}},
      {"msg_id": "7301939411234567893", "conversation_id": "c_88231", "sender_role": "staff",
       "staff_id": "kf_01", "create_time": 1795137390123, "content": {"text": "今天发"}}
    ]
  },
  "sign_method": "hmac-sha256"
})";

}  // namespace

TEST_CASE("mapping: the Freshdesk example maps each rule's body", "[mapping_adapter]") {
  const auto adapter = make(kFreshdeskConfig, "fd-token-5f2c");
  // What Freshdesk sends for the rule "Reply is sent, performed by Requester".
  const std::string customer = R"({"ticket_id": "4711", "sender_role": "customer",
    "agent_email": "mei@acme-parts.example", "status": "Open",
    "comment": "Where is my parcel? It was due on Monday."})";
  auto events = events_of(*adapter, TestRequest(customer, kNow));
  REQUIRE(events.size() == 1);
  const std::string digest = to_lower_hex(sha256(customer)).substr(0, 32);
  CHECK(events[0] == json(fmt::format(R"({{"type": "buyer_message", "id": "fd:{}",
      "shop": "acme-parts", "conversation": "fd-4711", "channel": "email",
      "platform": "freshdesk", "ts": "2026-11-20T01:16:40.000Z"}})",
                                      digest)));
  // A retry repeats the body, so it repeats the id; another reply is another id.
  CHECK(events_of(*adapter, TestRequest(customer, kNow + std::chrono::seconds(30)))[0].at("id") ==
        events[0].at("id"));

  const std::string agent = R"({"ticket_id": "4711", "sender_role": "agent",
    "agent_email": "mei@acme-parts.example", "status": "Pending",
    "comment": "It leaves the warehouse today."})";
  events = events_of(*adapter, TestRequest(agent, kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("type") == "agent_message");
  CHECK(events[0].at("agent") == "mei@acme-parts.example");
  CHECK(events[0].at("id") != json(fmt::format("\"fd:{}\"", digest)));

  const std::string resolved = R"({"ticket_id": "4711", "sender_role": "resolved",
    "agent_email": "", "status": "Resolved", "comment": "It leaves the warehouse today."})";
  events = events_of(*adapter, TestRequest(resolved, kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("type") == "conversation_closed");
  CHECK_FALSE(events[0].as_object().contains("agent"));
}

TEST_CASE("mapping: bearer tokens", "[mapping_adapter]") {
  const auto adapter = make(kFreshdeskConfig, "fd-token-5f2c");
  const std::string body = R"({"ticket_id": "1", "sender_role": "customer"})";
  CHECK_FALSE(adapter->authenticate(
      TestRequest(body, kNow).header("Authorization", "Bearer fd-token-5f2c").request()));
  CHECK_FALSE(adapter->authenticate(
      TestRequest(body, kNow).header("authorization", "bearer fd-token-5f2c").request()));
  const auto refused = [&](const TestRequest& request) {
    const auto refusal = adapter->authenticate(request.request());
    REQUIRE(refusal);
    CHECK(refusal->kind == AdapterRefusalKind::kUnauthorized);
    return refusal->reason;
  };
  CHECK(refused(TestRequest(body, kNow).header("Authorization", "Bearer fd-token-5f2d")) ==
        "bearer token does not match");
  CHECK(refused(TestRequest(body, kNow).header("Authorization", "Bearer fd-token-5f2")) ==
        "bearer token does not match");
  CHECK_THAT(refused(TestRequest(body, kNow)), Catch::Contains("missing"));
  // A token needs no body: it is checked in full before the body is read.
  CHECK(adapter->check_headers(
      TestRequest("", kNow).header("Authorization", "Bearer fd-token-5f2d").request()));
  CHECK_FALSE(adapter->check_headers(
      TestRequest("", kNow).header("Authorization", "Bearer fd-token-5f2c").request()));
  CHECK_THAT(refused(TestRequest(body, kNow).header("Authorization", "Basic ZmQ6dG9rZW4=")),
             Catch::Contains("missing"));
}

TEST_CASE("mapping: the Douyin bridge example maps an array of messages", "[mapping_adapter]") {
  const auto adapter = make(kDouyinConfig, "dy-bridge-secret");
  const auto events = events_of(*adapter, TestRequest(std::string(kDouyinPush), kNow));
  CHECK(boost::json::value(events) == json(R"([
    {"type": "buyer_message", "id": "dy:7301939411234567890", "shop": "7300118822",
     "conversation": "c_88231", "platform": "douyin", "ts": "2026-11-20T01:15:02.000Z"},
    {"type": "bot_message", "id": "dy:7301939411234567892", "shop": "7300118822",
     "conversation": "c_88231", "bot": "feige_assistant", "platform": "douyin",
     "ts": "2026-11-20T01:15:04.000Z"},
    {"type": "agent_message", "id": "dy:7301939411234567893", "shop": "7300118822",
     "conversation": "c_88231", "agent": "kf_01", "platform": "douyin",
     "ts": "2026-11-20T01:16:30.123Z"}])"));
}

TEST_CASE("mapping: the POST /v1/events signature: good, wrong secret, stale, missing, tampered",
          "[mapping_adapter]") {
  const auto adapter = make(kDouyinConfig, "dy-bridge-secret");
  const std::string body(kDouyinPush);
  const auto sign = [](std::string_view secret, std::string_view timestamp, std::string_view text) {
    return "sha256=" + to_lower_hex(hmac_sha256(secret, {timestamp, ".", text}));
  };
  const auto request = [](std::string text, std::string timestamp, std::string signature) {
    return TestRequest(std::move(text), kNow)
        .header("X-Replywatch-Timestamp", std::move(timestamp))
        .header("X-Replywatch-Signature", std::move(signature));
  };
  CHECK_FALSE(adapter->authenticate(
      request(body, "1795137390", sign("dy-bridge-secret", "1795137390", body)).request()));
  CHECK_FALSE(adapter->authenticate(  // exactly 300 s away: inside
      request(body, "1795137100", sign("dy-bridge-secret", "1795137100", body)).request()));
  const auto refused = [&](const TestRequest& r) {
    const auto refusal = adapter->authenticate(r.request());
    REQUIRE(refusal);
    CHECK(refusal->kind == AdapterRefusalKind::kUnauthorized);
    return refusal->reason;
  };
  CHECK(refused(request(body, "1795137390", sign("other", "1795137390", body))) ==
        "X-Replywatch-Signature does not match");
  CHECK_THAT(refused(request(body, "1795137099", sign("dy-bridge-secret", "1795137099", body))),
             Catch::Contains("300 s"));
  CHECK_THAT(refused(TestRequest(body, kNow)), Catch::Contains("missing"));
  CHECK_THAT(refused(request(body, "2026-11-20T01:16:30Z", "sha256=00")),
             Catch::Contains("Unix seconds"));
  CHECK(adapter->check_headers(  // stale, before the body
      request("", "1795137099", sign("dy-bridge-secret", "1795137099", body)).request()));
  CHECK_FALSE(adapter->check_headers(
      request("", "1795137390", sign("dy-bridge-secret", "1795137390", body)).request()));
  std::string tampered = body;
  tampered.replace(tampered.find("kf_01"), 5, "kf_02");
  CHECK(refused(request(tampered, "1795137390", sign("dy-bridge-secret", "1795137390", body))) ==
        "X-Replywatch-Signature does not match");
}

TEST_CASE("mapping: timestamps as RFC 3339, epoch seconds or milliseconds, auto or forced",
          "[mapping_adapter]") {
  const auto with_format = [](std::string_view format) {
    return make(fmt::format(R"(
name: t
platform: tmall
fields:
  id: {{pointer: /id}}
  shop: s1
  conversation: {{pointer: /c}}
  type: buyer_message
  ts: {{pointer: /at{}}}
)",
                            format.empty() ? "" : fmt::format(", format: {}", format)));
  };
  const auto ts_of = [](const Adapter& adapter, std::string_view at) {
    const auto events = events_of(
        adapter, TestRequest(fmt::format(R"({{"id": "m1", "c": "b1", "at": {}}})", at), kNow));
    REQUIRE(events.size() == 1);
    return std::string(events[0].at("ts").as_string());
  };
  const auto automatic = with_format("");
  CHECK(ts_of(*automatic, R"("2026-11-20T09:15:02.120+08:00")") == "2026-11-20T01:15:02.120Z");
  CHECK(ts_of(*automatic, "1795137302") == "2026-11-20T01:15:02.000Z");
  CHECK(ts_of(*automatic, "1795137302.5") == "2026-11-20T01:15:02.500Z");
  CHECK(ts_of(*automatic, "1795137302120") == "2026-11-20T01:15:02.120Z");
  CHECK(ts_of(*automatic, R"("1795137302")") == "2026-11-20T01:15:02.000Z");
  CHECK(ts_of(*automatic, R"("1795137302120")") == "2026-11-20T01:15:02.120Z");
  CHECK(ts_of(*with_format("epoch_ms"), "1795137302") == "1970-01-21T18:38:57.302Z");
  CHECK(ts_of(*with_format("epoch_s"), R"("1795137302")") == "2026-11-20T01:15:02.000Z");
  CHECK(ts_of(*with_format("rfc3339"), R"("2026-11-20T01:15:02Z")") == "2026-11-20T01:15:02.000Z");

  const auto pointer_of = [](const Adapter& adapter, std::string_view at) {
    return refusal_of(adapter,
                      TestRequest(fmt::format(R"({{"id": "m1", "c": "b1", "at": {}}})", at), kNow))
        .pointer;
  };
  CHECK(pointer_of(*automatic, R"("yesterday")") == "/at");
  CHECK(pointer_of(*automatic, "true") == "/at");
  CHECK(pointer_of(*automatic, "-5") == "/at");
  CHECK(pointer_of(*with_format("rfc3339"), "1795137302") == "/at");
  CHECK(pointer_of(*with_format("epoch_s"), R"("2026-11-20T01:15:02Z")") == "/at");
  CHECK(pointer_of(*automatic, "null") == "/at");  // null is absent, and ts is required
}

TEST_CASE("mapping: one object per body, constants, defaults, agent status from a boolean",
          "[mapping_adapter]") {
  const auto adapter = make(R"(
name: presence
platform: tmall
fields:
  id: {pointer: /event_id}
  shop: {pointer: /seller/nick}
  type: {pointer: /kind, values: {login: agent_status, logout: agent_status}, default: ~}
  agent: {pointer: /agent/id}
  status: {pointer: /agent/online}
  ts: {pointer: /at}
  platform: {pointer: /site, values: {tb: taobao, tm: tmall}, default: tmall}
)");
  auto events = events_of(*adapter, TestRequest(R"({"event_id": 991, "seller": {"nick": "tm-demo"},
      "kind": "login", "agent": {"id": "kf01", "online": true, "name": "Mei"},
      "at": "2026-11-20T01:00:00Z", "site": "tb", "extra": [1, 2, 3]})",
                                                kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"type": "agent_status", "id": "991", "platform": "taobao",
      "shop": "tm-demo", "agent": "kf01", "status": "online", "ts": "2026-11-20T01:00:00.000Z"})"));
  events = events_of(*adapter, TestRequest(R"({"event_id": 992, "seller": {"nick": "tm-demo"},
      "kind": "logout", "agent": {"id": "kf01", "online": false}, "at": 1795136400000})",
                                           kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("status") == "offline");
  CHECK(events[0].at("platform") == "tmall");
  // A kind the table does not list falls to the default: no event.
  CHECK(events_of(*adapter, TestRequest(R"({"kind": "heartbeat"})", kNow)).empty());
  // An empty array of events is no event either.
  const auto batch = make(R"(
name: batch
platform: tmall
events: /items
fields: {id: {pointer: /id}, shop: s1, conversation: {pointer: /c}, type: buyer_message,
         ts: {pointer: /t}}
)");
  CHECK(events_of(*batch, TestRequest(R"({"items": []})", kNow)).empty());
}

TEST_CASE("mapping: bodies of the wrong shape are refused with the body's pointer",
          "[mapping_adapter]") {
  const auto adapter = make(kDouyinConfig, "dy-bridge-secret");
  const auto refusal = [&](std::string body) {
    const AdapterRefusal r = refusal_of(*adapter, TestRequest(std::move(body), kNow));
    CHECK(r.kind == AdapterRefusalKind::kUnprocessable);
    return r;
  };
  // The fourth message lacks its sender_role.
  std::string body(kDouyinPush);
  body.replace(body.find(R"("sender_role": "staff",)"),
               std::string_view(R"("sender_role": "staff",)").size(), "");
  auto r = refusal(body);
  CHECK(r.pointer == "/data/messages/3/sender_role");
  CHECK_THAT(r.reason, Catch::Contains("/data/messages/3/sender_role"));
  // A role the table does not know, and no default.
  body = std::string(kDouyinPush);
  body.replace(body.find(R"("sender_role": "robot")"),
               std::string_view(R"("sender_role": "robot")").size(), R"("sender_role": "seller")");
  r = refusal(body);
  CHECK(r.pointer == "/data/messages/2/sender_role");
  CHECK_THAT(r.reason, Catch::Contains("\"seller\""));
  // A bot message needs its bot.
  body = std::string(kDouyinPush);
  body.replace(body.find(R"("robot_name": "feige_assistant", )"),
               std::string_view(R"("robot_name": "feige_assistant", )").size(), "");
  CHECK(refusal(body).pointer == "/data/messages/2/robot_name");
  CHECK(refusal(R"({"data": {"shop_id": 1}})").pointer == "/data/messages");
  CHECK(refusal(R"({"data": {"shop_id": 1, "messages": [{"msg_id": "1"}, 7]}})").pointer ==
        "/data/messages/0/sender_role");
  CHECK(refusal(R"({"data": {"shop_id": 1, "messages": [7]}})").pointer == "/data/messages/0");
  CHECK(refusal(R"({"data": {"messages": [{"msg_id": "1", "conversation_id": "c",
      "sender_role": "buyer", "create_time": 1795137302}]}})")
            .pointer == "/data/shop_id");
  CHECK(refusal(R"({"data": {"shop_id": {"id": 1}, "messages": [{"msg_id": "1",
      "conversation_id": "c", "sender_role": "buyer", "create_time": 1795137302}]}})")
            .pointer == "/data/shop_id");
  CHECK(refusal("not json").pointer == "");
  // A type read verbatim must be one of the event types.
  const auto verbatim = make(R"(
name: v
platform: tmall
fields: {id: {pointer: /id}, shop: s1, conversation: {pointer: /c}, type: {pointer: /type},
         ts: {pointer: /t}}
)");
  CHECK(
      refusal_of(*verbatim, TestRequest(R"({"id": "1", "c": "b", "type": "buyer", "t": 1})", kNow))
          .pointer == "/type");
}

TEST_CASE("mapping config: errors name the adapter, the key and the position",
          "[mapping_adapter]") {
  CHECK(config_errors("{name: b, fields: {id: {pointer: /id}, shop: s, type: buyer_message, "
                      "ts: {pointer: /t}}}")
            .empty());
  auto errors = config_errors(R"(name: b
auth: hmac
evnets: /x
fields:
  id: {pointer: id}
  shop: s
  kind: {pointer: /k}
  type: {pointer: /r, values: {buyer: buyer_msg}}
  ts: 1795137302
)");
  REQUIRE(errors.size() == 6);
  CHECK(errors[0] == "adapters.yaml:2:7: adapters[bridge].auth: must be signature or bearer");
  CHECK(errors[1] ==
        "adapters.yaml:3:1: adapters[bridge].evnets: unknown key for kind mapping (its own keys: "
        "auth, events, fields)");
  CHECK_THAT(errors[2], Catch::StartsWith("adapters.yaml:5:17: adapters[bridge].fields.id.pointer: "
                                          "must be a JSON Pointer"));
  CHECK_THAT(errors[3], Catch::StartsWith("adapters.yaml:7:3: adapters[bridge].fields.kind: not an "
                                          "event field"));
  CHECK_THAT(errors[4],
             Catch::StartsWith("adapters.yaml:8:39: adapters[bridge].fields.type.values: "
                               "\"buyer_msg\" is not an event type"));
  CHECK_THAT(errors[5], Catch::StartsWith("adapters.yaml:9:7: adapters[bridge].fields.ts: a "
                                          "timestamp cannot be a constant"));

  errors = config_errors("{name: b, fields: {id: {pointer: /id}, type: buyer_message}}");
  REQUIRE(errors.size() == 2);
  CHECK_THAT(errors[0], Catch::Contains("adapters[bridge].fields.shop: missing"));
  CHECK_THAT(errors[1], Catch::Contains("adapters[bridge].fields.ts: missing"));
  errors = config_errors("{name: b}");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("adapters[bridge].fields: a mapping adapter needs"));
  errors = config_errors(
      "{name: b, fields: {id: {pointer: /a, body_pointer: /b}, shop: s, type: agent_status, "
      "ts: {received: yes}, status: {pointer: /s, values: {1: up}}}}");
  REQUIRE(errors.size() == 3);
  CHECK_THAT(errors[0], Catch::Contains("fields.id: needs exactly one of pointer"));
  CHECK_THAT(errors[1], Catch::Contains("fields.ts.received: must be true"));
  CHECK_THAT(errors[2], Catch::Contains("\"up\" is not online or offline"));
  errors = config_errors(
      "{name: b, fields: {id: {pointer: /a}, shop: s, type: buyer_message, "
      "ts: {pointer: /t, values: {now: later}}}}");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("fields.ts.values: unknown key (known: pointer, "
                                        "body_pointer, received, format)"));
}

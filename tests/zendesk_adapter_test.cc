// Zendesk (docs/adapters.md, "Zendesk"): event-subscription envelopes and the trigger body,
// written from Zendesk's documented shapes (ids as strings or numbers, times with nanoseconds).
#include "zendesk_adapter.h"

#include <catch2/catch.hpp>
#include <string>

#include "adapter_test_support.h"

namespace {

using namespace replywatch::adapters;
using namespace replywatch::adapters::testing;
using replywatch::Instant;

const Instant kNow = at_time("2026-11-20T09:16:00Z");

std::unique_ptr<Adapter> make(std::string_view yaml, std::optional<std::string> secret = {}) {
  AdapterSettings settings{"zd", "zendesk", "zendesk", std::move(secret), false};
  std::vector<std::string> errors;
  auto adapter =
      make_zendesk_adapter(settings, YAML::Load(std::string(yaml)), config_position, errors);
  REQUIRE(errors.empty());
  REQUIRE(adapter != nullptr);
  return adapter;
}

const std::unique_ptr<Adapter>& plain() {
  static const auto adapter = make("{name: zd, kind: zendesk, platform: zendesk, insecure: true}");
  return adapter;
}

// A public comment by an agent, as an event subscription sends it (ids as strings, as the
// current event version writes them).
constexpr std::string_view kAgentComment = R"({
  "account_id": 22129848,
  "detail": {"actor_id": "8447388090495", "assignee_id": "8447388090495", "brand_id": "8447346621310",
             "created_at": "2026-11-20T09:12:07Z", "id": "5158", "is_public": true,
             "priority": "HIGH", "requester_id": "8447388090494", "status": "OPEN",
             "subject": "Parcel not arrived", "tags": ["ebay"], "type": "QUESTION",
             "updated_at": "2026-11-20T09:15:30Z", "via": {"channel": "web"}},
  "event": {"comment": {"id": "9876543210", "body": "We are on it.", "is_public": true,
                        "author": {"id": "8447388090495", "is_staff": true, "name": "Mei"}},
            "meta": {"sequence": {"id": "CE4A", "position": 1, "total": 1}}},
  "id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
  "subject": "zen:ticket:5158",
  "time": "2026-11-20T09:15:30.123456789Z",
  "type": "zen:event-type:ticket.comment_added",
  "zendesk_event_version": "2022-11-06"
})";

}  // namespace

TEST_CASE("Zendesk: a public comment by staff is an agent message", "[zendesk_adapter]") {
  const auto events = events_of(*plain(), TestRequest(std::string(kAgentComment), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:comment:9876543210", "platform": "zendesk",
      "shop": "22129848", "type": "agent_message", "ts": "2026-11-20T09:15:30.123Z",
      "conversation": "5158", "channel": "web", "agent": "8447388090495"})"));
}

TEST_CASE("Zendesk: a public comment by anyone else is a buyer message; ids may be numbers",
          "[zendesk_adapter]") {
  const std::string body =
      R"({"type": "zen:event-type:ticket.comment_added", "account_id": 22129848,
    "id": "01GX", "time": "2026-11-20T09:15:02.120000000Z", "subject": "zen:ticket:5158",
    "detail": {"id": 5158, "via": {"channel": "email"}},
    "event": {"comment": {"id": 9876543209, "is_public": true,
                          "author": {"id": 8447388090494, "is_staff": false, "name": "Ann"}}}})";
  const auto events = events_of(*plain(), TestRequest(body, kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:comment:9876543209", "platform": "zendesk",
      "shop": "22129848", "type": "buyer_message", "ts": "2026-11-20T09:15:02.120Z",
      "conversation": "5158", "channel": "email"})"));
}

TEST_CASE(
    "Zendesk: internal notes, messaging tickets' comments and other event types map to "
    "nothing",
    "[zendesk_adapter]") {
  std::string note(kAgentComment);
  note.replace(note.find(R"("body": "We are on it.", "is_public": true)"),
               std::string_view(R"("body": "We are on it.", "is_public": true)").size(),
               R"("body": "refund?", "is_public": false)");
  CHECK(events_of(*plain(), TestRequest(note, kNow)).empty());

  std::string messaging(kAgentComment);
  messaging.replace(messaging.find(R"("channel": "web")"), 16, R"("channel": "native_messaging")");
  CHECK(events_of(*plain(), TestRequest(messaging, kNow)).empty());

  const std::string user_event = R"({"type": "zen:event-type:user.active_changed",
    "account_id": 12514403, "id": "2b24", "time": "2026-11-20T05:33:18Z",
    "subject": "zen:user:6596848315901", "detail": {"id": "6596848315901", "role": "end-user"},
    "event": {"current": false, "previous": true}})";
  CHECK(events_of(*plain(), TestRequest(user_event, kNow)).empty());
}

TEST_CASE("Zendesk: a ticket solved or closed closes the conversation", "[zendesk_adapter]") {
  const std::string solved = R"({"type": "zen:event-type:ticket.status_changed",
    "account_id": 22129848, "id": "a8b9", "time": "2026-11-20T09:45:20.987654321Z",
    "subject": "zen:ticket:5158", "detail": {"id": "5158", "status": "SOLVED"},
    "event": {"current": "SOLVED", "previous": "OPEN"}, "zendesk_event_version": "2022-11-06"})";
  auto events = events_of(*plain(), TestRequest(solved, kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:ticket:5158:solved:1795167920987", "platform": "zendesk",
      "shop": "22129848", "type": "conversation_closed", "ts": "2026-11-20T09:45:20.987Z",
      "conversation": "5158"})"));

  // No detail at all: the ticket comes from the subject.
  const std::string closed = R"({"type": "zen:event-type:ticket.status_changed",
    "account_id": "22129848", "time": "2026-11-21T00:00:00Z", "subject": "zen:ticket:77",
    "event": {"current": "CLOSED", "previous": "SOLVED"}})";
  events = events_of(*plain(), TestRequest(closed, kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("id") == "zd:ticket:77:closed:1795219200000");
  CHECK(events[0].at("conversation") == "77");

  const std::string pending = R"({"type": "zen:event-type:ticket.status_changed",
    "account_id": 22129848, "time": "2026-11-20T09:45:20Z", "subject": "zen:ticket:5158",
    "detail": {"id": "5158"}, "event": {"current": "PENDING", "previous": "OPEN"}})";
  CHECK(events_of(*plain(), TestRequest(pending, kNow)).empty());
}

TEST_CASE("Zendesk: agent states on the configured channel are agent status, away is offline",
          "[zendesk_adapter]") {
  const auto state = [](std::string_view channel, std::string_view new_state) {
    return fmt::format(R"({{"account_id": 2, "detail": {{"account_id": "2", "agent_id": "10011",
      "version": "3"}}, "event": {{"updated_at": "2026-11-20T08:30:58.642630335Z",
      "previous_state": "offline", "new_state": "{}", "channel": "{}"}},
      "id": "01GX79ST1QX01C889XV42S2J5T", "subject": "zen:agent:10011",
      "time": "2026-11-20T08:30:59.001Z", "type": "zen:event-type:agent.state_changed",
      "zendesk_event_version": "2022-11-06"}})",
                       new_state, channel);
  };
  auto events = events_of(*plain(), TestRequest(state("support", "online"), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:agent:10011:support:online:1795163458642",
      "platform": "zendesk", "shop": "2", "type": "agent_status",
      "ts": "2026-11-20T08:30:58.642Z", "agent": "10011", "status": "online"})"));
  events = events_of(*plain(), TestRequest(state("support", "away"), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("status") == "offline");
  CHECK(events_of(*plain(), TestRequest(state("messaging", "online"), kNow)).empty());

  const auto messaging = make("{name: zd, kind: zendesk, agent_channel: messaging}");
  events = events_of(*messaging, TestRequest(state("messaging", "offline"), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("status") == "offline");
  CHECK(events_of(*messaging, TestRequest(state("support", "online"), kNow)).empty());
}

TEST_CASE("Zendesk: messaging messages by end user, agent, bot and trigger", "[zendesk_adapter]") {
  const auto message = [](std::string_view actor_type, std::string_view actor_id) {
    return fmt::format(R"({{"account_id": 21825834, "detail": {{"id": "141"}},
      "event": {{"actor": {{"id": "{}", "name": "Someone", "type": "{}"}},
                "message": {{"body": "Hi", "id": "67ab5f55155becd183e284cb"}}}},
      "id": "01JQ", "subject": "zen:ticket:141", "time": "2026-11-20T09:00:05.254571515Z",
      "type": "zen:event-type:messaging_ticket.message_added",
      "zendesk_event_version": "2022-11-06"}})",
                       actor_id, actor_type);
  };
  auto events = events_of(*plain(), TestRequest(message("end_user", "5f3e"), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:message:67ab5f55155becd183e284cb",
      "platform": "zendesk", "shop": "21825834", "type": "buyer_message",
      "ts": "2026-11-20T09:00:05.254Z", "conversation": "141", "channel": "native_messaging"})"));
  events = events_of(*plain(), TestRequest(message("agent", "8447388090495"), kNow));
  CHECK(events.at(0).at("type") == "agent_message");
  CHECK(events.at(0).at("agent") == "8447388090495");
  events = events_of(*plain(), TestRequest(message("system", "zd:answerBot"), kNow));
  CHECK(events.at(0).at("type") == "bot_message");
  CHECK(events.at(0).at("bot") == "zd:answerBot");
  events = events_of(*plain(), TestRequest(message("trigger", "12"), kNow));
  CHECK(events.at(0).at("bot") == "trigger");
  CHECK(events_of(*plain(), TestRequest(message("robot_from_the_future", "1"), kNow)).empty());
}

TEST_CASE("Zendesk: bodies of the wrong shape are refused with the pointer of the problem",
          "[zendesk_adapter]") {
  const auto pointer_of = [](std::string body) {
    const AdapterRefusal refusal = refusal_of(*plain(), TestRequest(std::move(body), kNow));
    CHECK(refusal.kind == AdapterRefusalKind::kUnprocessable);
    return refusal.pointer;
  };
  CHECK(pointer_of("{not json") == "");
  CHECK(pointer_of("[1, 2]") == "");
  CHECK(pointer_of(R"({"hello": "world"})") == "");
  CHECK(pointer_of(R"({"type": 7})") == "/type");
  CHECK(pointer_of(R"({"type": "ticket.comment_added"})") == "/type");
  CHECK(pointer_of(
            R"({"type": "zen:event-type:ticket.comment_added", "time": "2026-11-20T09:00:00Z"})") ==
        "/account_id");
  CHECK(pointer_of(R"({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "time": "yesterday"})") == "/time");
  CHECK(pointer_of(R"({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "time": "2026-11-20T09:00:00Z", "detail": {"id": true}})") == "/detail/id");
  CHECK(pointer_of(R"({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "time": "2026-11-20T09:00:00Z", "detail": {"id": "5"}})") ==
        "/event/comment");
  CHECK(pointer_of(R"({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "time": "2026-11-20T09:00:00Z", "detail": {"id": "5"},
                       "event": {"comment": {"id": "9", "is_public": "yes"}}})") ==
        "/event/comment/is_public");
  CHECK(pointer_of(R"({"type": "zen:event-type:ticket.comment_added", "account_id": 1,
                       "time": "2026-11-20T09:00:00Z", "detail": {"id": "5"},
                       "event": {"comment": {"id": "9", "is_public": true}}})") ==
        "/event/comment/author/is_staff");
  CHECK(pointer_of(R"({"type": "zen:event-type:agent.state_changed", "account_id": 1,
                       "time": "2026-11-20T09:00:00Z", "detail": {},
                       "event": {"channel": "support", "new_state": "online"}})") ==
        "/detail/agent_id");
}

// The trigger body of docs/adapters.md, as Zendesk renders it (every placeholder a string).
TEST_CASE("Zendesk trigger body: comments by end users and agents, internal notes",
          "[zendesk_adapter]") {
  const auto body = [](std::string_view role, std::string_view is_public) {
    return fmt::format(R"({{
  "event": "comment_added",
  "account_id": "22129848",
  "ticket": {{"id": "5158", "status": "Open", "updated_at": "2026-11-20T09:15Z", "channel": "Mail"}},
  "comment": {{"id": "9876543210", "is_public": "{}", "author_id": "8447388090495",
               "author_role": "{}"}}
}})",
                       is_public, role);
  };
  // The signature timestamp has the seconds the placeholder lacks.
  auto events = events_of(
      *plain(), TestRequest(body("Agent", "true"), kNow)
                    .header("X-Zendesk-Webhook-Signature-Timestamp", "2026-11-20T09:15:31Z"));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:comment:9876543210", "platform": "zendesk",
      "shop": "22129848", "type": "agent_message", "ts": "2026-11-20T09:15:31.000Z",
      "conversation": "5158", "channel": "email", "agent": "8447388090495"})"));
  // Without it (an unsigned adapter), the ticket's update minute.
  events = events_of(*plain(), TestRequest(body("End-user", "true"), kNow));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == json(R"({"id": "zd:comment:9876543210", "platform": "zendesk",
      "shop": "22129848", "type": "buyer_message", "ts": "2026-11-20T09:15:00.000Z",
      "conversation": "5158", "channel": "email"})"));
  CHECK(events_of(*plain(), TestRequest(body("Admin", "true"), kNow))[0].at("type") ==
        "agent_message");
  CHECK(events_of(*plain(), TestRequest(body("Team lead", "true"), kNow))[0].at("type") ==
        "agent_message");
  CHECK(events_of(*plain(), TestRequest(body("Agent", "false"), kNow)).empty());
  CHECK(refusal_of(*plain(), TestRequest(body("Agent", "maybe"), kNow)).pointer ==
        "/comment/is_public");
  CHECK(refusal_of(*plain(), TestRequest(body("", "true"), kNow)).pointer ==
        "/comment/author_role");
}

TEST_CASE("Zendesk trigger body: solved tickets close, with an id stable across retries",
          "[zendesk_adapter]") {
  const auto body = [](std::string_view status) {
    return fmt::format(R"({{"event": "status_changed", "account_id": 22129848,
      "ticket": {{"id": "5158", "status": "{}", "updated_at": "2026-11-20T09:45Z"}},
      "comment": {{"id": "", "is_public": "", "author_id": "", "author_role": ""}}}})",
                       status);
  };
  const auto first = events_of(
      *plain(), TestRequest(body("Solved"), kNow)
                    .header("X-Zendesk-Webhook-Signature-Timestamp", "2026-11-20T09:45:03Z"));
  const auto retry = events_of(
      *plain(), TestRequest(body("Solved"), kNow)
                    .header("X-Zendesk-Webhook-Signature-Timestamp", "2026-11-20T09:47:03Z"));
  REQUIRE(first.size() == 1);
  CHECK(first[0] == json(R"({"id": "zd:ticket:5158:solved:1795167900000", "platform": "zendesk",
      "shop": "22129848", "type": "conversation_closed", "ts": "2026-11-20T09:45:03.000Z",
      "conversation": "5158"})"));
  CHECK(retry.at(0).at("id") == first[0].at("id"));
  CHECK(events_of(*plain(), TestRequest(body("Closed"), kNow)).size() == 1);
  CHECK(events_of(*plain(), TestRequest(body("Pending"), kNow)).empty());
  CHECK(refusal_of(*plain(), TestRequest(R"({"event": "ticket_merged", "ticket": {}})", kNow))
            .pointer == "/event");
  CHECK(refusal_of(*plain(), TestRequest(R"({"event": "status_changed", "account_id": 1,
      "ticket": {"id": "5", "status": "Solved", "updated_at": "soon"}})",
                                         kNow))
            .pointer == "/ticket/updated_at");
}

TEST_CASE("Zendesk signatures: good, wrong secret, stale, missing, tampered", "[zendesk_adapter]") {
  const auto adapter = make("{name: zd, kind: zendesk, platform: zendesk}", "dGhlIHNlY3JldA==");
  const std::string body(kAgentComment);
  const std::string timestamp = "2026-11-20T09:15:40Z";  // 20 s before kNow
  const auto signed_request = [&](std::string signature, std::string sent, std::string text) {
    return TestRequest(std::move(text), kNow)
        .header("X-Zendesk-Webhook-Signature", std::move(signature))
        .header("X-Zendesk-Webhook-Signature-Timestamp", std::move(sent));
  };
  const std::string good = zendesk_signature("dGhlIHNlY3JldA==", timestamp, body);
  CHECK(good.size() == 44);  // base64 of 32 bytes
  CHECK_FALSE(adapter->authenticate(signed_request(good, timestamp, body).request()));

  const auto refused = [&](const TestRequest& request) {
    const auto refusal = adapter->authenticate(request.request());
    REQUIRE(refusal);
    CHECK(refusal->kind == AdapterRefusalKind::kUnauthorized);
    return refusal->reason;
  };
  CHECK(refused(signed_request(zendesk_signature("other", timestamp, body), timestamp, body)) ==
        "signature does not match");
  const std::string old = "2026-11-20T09:10:59Z";  // 301 s before kNow
  CHECK_THAT(refused(signed_request(zendesk_signature("dGhlIHNlY3JldA==", old, body), old, body)),
             Catch::Contains("300 s"));
  const std::string edge = "2026-11-20T09:11:00Z";  // exactly 300 s: still inside
  CHECK_FALSE(adapter->authenticate(
      signed_request(zendesk_signature("dGhlIHNlY3JldA==", edge, body), edge, body).request()));
  CHECK_THAT(refused(TestRequest(body, kNow)), Catch::Contains("missing"));
  CHECK_THAT(refused(TestRequest(body, kNow).header("X-Zendesk-Webhook-Signature", good)),
             Catch::Contains("missing"));
  CHECK_THAT(refused(signed_request(good, "1795167340", body)), Catch::Contains("RFC 3339"));
  std::string tampered = body;
  tampered.replace(tampered.find("9876543210"), 10, "9876543211");
  CHECK(refused(signed_request(good, timestamp, tampered)) == "signature does not match");
  // Before the body arrives: missing and stale headers are refused, a good pair passes.
  CHECK_FALSE(adapter->check_headers(signed_request(good, timestamp, "").request()));
  CHECK(adapter->check_headers(signed_request(good, old, "").request()));
  CHECK(adapter->check_headers(TestRequest("", kNow).request()));
  // The timestamp is signed too.
  CHECK(refused(signed_request(good, "2026-11-20T09:15:41Z", body)) == "signature does not match");
}

TEST_CASE("Zendesk config: unknown keys and bad values are errors at their position",
          "[zendesk_adapter]") {
  const auto errors_of = [](std::string_view yaml) {
    std::vector<std::string> errors;
    AdapterSettings settings{"zd", "zendesk", "zendesk", std::nullopt, true};
    const auto adapter =
        make_zendesk_adapter(settings, YAML::Load(std::string(yaml)), config_position, errors);
    CHECK((adapter == nullptr) == !errors.empty());
    return errors;
  };
  CHECK(errors_of("{name: zd, kind: zendesk, platform: zendesk, insecure: true}").empty());
  auto errors = errors_of("name: zd\nkind: zendesk\nagent_chanel: talk\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        "adapters.yaml:3:1: adapters[zd].agent_chanel: unknown key for kind zendesk (its own "
        "keys: agent_channel)");
  errors = errors_of("name: zd\nagent_channel: [talk]\n");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith("adapters.yaml:2:16: adapters[zd].agent_channel:"));
}

// POST /v1/adapters/NAME without sockets: the Chatwoot adapter in front of the POST /v1/events
// job, over a fake backend that records what is committed and counted.
#include "adapter_route.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <set>

#include "chatwoot_adapter.h"
#include "chatwoot_bodies.h"
#include "hmac.h"

using replywatch::Duration;
using replywatch::Event;
using replywatch::Instant;
using replywatch::RejectReason;
using replywatch::server::adapter_outcome_label;
using replywatch::server::AdapterOutcome;
using replywatch::server::check_ingest_header;
using replywatch::server::handle_ingest_request;
using replywatch::server::HttpRequest;
using replywatch::server::HttpResponse;
using replywatch::server::IngestBackend;
using replywatch::server::IngestCommit;
using replywatch::server::IngestSettings;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

const Instant kNow = Instant(std::chrono::seconds(1795684800));  // 2026-11-26T09:20:00Z
const std::string kSecret = "cw-secret";

class FakeBackend final : public IngestBackend {
 public:
  bool ready() const override { return ready_after == 0; }
  Instant now() const override { return kNow; }
  bool platform_known(std::string_view platform) const override { return platform == "chatwoot"; }
  void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) override {
    ++commit_calls;
    if (failing_commits > 0) {
      --failing_commits;
      return done(IngestCommit{});
    }
    IngestCommit result{true, 0, 0, {}};
    for (Event& event : events) {
      if (seen.insert(event.shop + "/" + event.id).second) {
        ++result.accepted;
        stored.push_back(std::move(event));
      } else {
        ++result.duplicates;
      }
    }
    done(result);
  }
  bool is_duplicate(const Event& event) const override {
    return seen.contains(event.shop + "/" + event.id);
  }
  void run_after(Duration delay, std::function<void()> step) override {
    waited += delay;
    if (ready_after > 0) --ready_after;
    step();
  }
  void count_rejected_event(RejectReason reason) override { rejected.push_back(reason); }
  void count_refused_request(replywatch::server::RefusalReason reason, std::string_view) override {
    refused.emplace_back(replywatch::server::refusal_label(reason));
  }
  void count_adapter_request(std::string_view adapter, AdapterOutcome outcome) override {
    outcomes.push_back(std::string(adapter) + ":" + std::string(adapter_outcome_label(outcome)));
  }

  int ready_after = 0;  // retries until ready
  int failing_commits = 0;
  int commit_calls = 0;
  Duration waited{0};
  std::set<std::string> seen;
  std::vector<Event> stored;
  std::vector<RejectReason> rejected;
  std::vector<std::string> refused;
  std::vector<std::string> outcomes;
};

IngestSettings settings_with_adapter() {
  replywatch::adapters::AdapterSettings settings{"support", "chatwoot", "chatwoot", kSecret, false};
  std::vector<replywatch::adapters::ConfiguredAdapter> adapters;
  adapters.push_back({"support", "chatwoot", "chatwoot", "", false,
                      replywatch::adapters::make_chatwoot(settings, {})});
  IngestSettings out;
  out.secret = "the-events-secret";  // /v1/events' own secret does not apply to adapters
  out.adapters = std::make_shared<replywatch::adapters::AdapterSet>(std::move(adapters));
  return out;
}

HttpRequest chatwoot_post(const std::string& body,
                          const std::string& target = "/v1/adapters/support") {
  HttpRequest request{http::verb::post, target, 11};
  request.set(http::field::content_type, "application/json");
  const std::string timestamp = "1795684790";
  request.set("X-Chatwoot-Timestamp", timestamp);
  request.set("X-Chatwoot-Signature",
              "sha256=" + replywatch::adapters::to_lower_hex(
                              replywatch::adapters::hmac_sha256(kSecret, {timestamp, ".", body})));
  request.body() = body;
  request.prepare_payload();
  return request;
}

json::object answer_of(const HttpResponse& response) {
  INFO(response.body());
  return json::parse(response.body()).as_object();
}

}  // namespace

TEST_CASE("adapter_route: a Chatwoot message is taken like a POST /v1/events event",
          "[adapter_route]") {
  FakeBackend backend;
  const IngestSettings settings = settings_with_adapter();
  const std::string body = replywatch::test::chatwoot_message_body({});
  const HttpRequest request = chatwoot_post(body);
  CHECK_FALSE(check_ingest_header(request, settings, backend));
  const HttpResponse response = handle_ingest_request(request, settings, backend);
  CHECK(response.result() == http::status::ok);
  CHECK(answer_of(response) ==
        json::object{{"accepted", 1}, {"duplicates", 0}, {"rejected", json::array{}}});
  REQUIRE(backend.stored.size() == 1);
  CHECK(backend.stored[0].id == "cw:msg:5012");
  CHECK(backend.stored[0].shop == "3");
  CHECK(backend.outcomes == std::vector<std::string>{"support:ok"});

  SECTION("the same body again is a duplicate") {
    const HttpResponse again = handle_ingest_request(request, settings, backend);
    CHECK(answer_of(again).at("duplicates") == 1);
    CHECK(backend.stored.size() == 1);
  }
}

TEST_CASE("adapter_route: a body that maps to no event is 200 with nothing accepted",
          "[adapter_route]") {
  FakeBackend backend;
  replywatch::test::ChatwootMessage note;
  note.message_type = "outgoing";
  note.sender_type = "user";
  note.is_private = true;
  const HttpResponse response =
      handle_ingest_request(chatwoot_post(replywatch::test::chatwoot_message_body(note)),
                            settings_with_adapter(), backend);
  CHECK(response.result() == http::status::ok);
  CHECK(answer_of(response).at("accepted") == 0);
  CHECK(backend.commit_calls == 0);
}

TEST_CASE("adapter_route: dry_run answers with the events and stores nothing", "[adapter_route]") {
  FakeBackend backend;
  const IngestSettings settings = settings_with_adapter();
  const std::string body = replywatch::test::chatwoot_message_body({});
  const HttpResponse response = handle_ingest_request(
      chatwoot_post(body, "/v1/adapters/support?dry_run=true"), settings, backend);
  CHECK(response.result() == http::status::ok);
  const json::object answer = answer_of(response);
  CHECK(answer.at("accepted") == 1);
  REQUIRE(answer.at("events").as_array().size() == 1);
  CHECK(answer.at("events").as_array()[0].at("type") == "buyer_message");
  CHECK(backend.commit_calls == 0);
  CHECK(backend.outcomes == std::vector<std::string>{"support:dry_run"});

  SECTION("an event already taken shows as a duplicate") {
    handle_ingest_request(chatwoot_post(body), settings, backend);
    const json::object again = answer_of(handle_ingest_request(
        chatwoot_post(body, "/v1/adapters/support?dry_run=1"), settings, backend));
    CHECK(again.at("duplicates") == 1);
    CHECK(again.at("accepted") == 0);
  }
  SECTION("dry_run must be a boolean") {
    const HttpResponse bad = handle_ingest_request(
        chatwoot_post(body, "/v1/adapters/support?dry_run=maybe"), settings, backend);
    CHECK(bad.result() == http::status::bad_request);
  }
}

TEST_CASE("adapter_route: refusals store nothing", "[adapter_route]") {
  FakeBackend backend;
  const IngestSettings settings = settings_with_adapter();
  const std::string body = replywatch::test::chatwoot_message_body({});
  SECTION("an unknown adapter is 404, from the header alone") {
    const HttpRequest request = chatwoot_post(body, "/v1/adapters/zendesk");
    const auto early = check_ingest_header(request, settings, backend);
    REQUIRE(early);
    CHECK(early->result() == http::status::not_found);
    CHECK(handle_ingest_request(request, settings, backend).result() == http::status::not_found);
    CHECK(backend.outcomes.empty());  // unknown names are not labels
  }
  SECTION("no adapters configured: 404") {
    CHECK(handle_ingest_request(chatwoot_post(body), IngestSettings{}, backend).result() ==
          http::status::not_found);
  }
  SECTION("a missing signature is 401 before the body is read") {
    HttpRequest request = chatwoot_post(body);
    request.erase("X-Chatwoot-Signature");
    const auto early = check_ingest_header(request, settings, backend);
    REQUIRE(early);
    CHECK(early->result() == http::status::unauthorized);
    CHECK(handle_ingest_request(request, settings, backend).result() == http::status::unauthorized);
  }
  SECTION("a tampered body is 401") {
    HttpRequest request = chatwoot_post(body);
    request.body() = replywatch::test::chatwoot_message_body({.id = 6000});
    request.prepare_payload();
    CHECK_FALSE(check_ingest_header(request, settings, backend));
    const HttpResponse response = handle_ingest_request(request, settings, backend);
    CHECK(response.result() == http::status::unauthorized);
    CHECK(backend.outcomes == std::vector<std::string>{"support:unauthorized"});
    CHECK(backend.refused == std::vector<std::string>{"bad_signature"});
  }
  SECTION("not Chatwoot's shape is 422 with the reason and the pointer") {
    const HttpResponse response = handle_ingest_request(
        chatwoot_post(R"({"event":"message_created","id":1})"), settings, backend);
    CHECK(response.result() == http::status::unprocessable_entity);
    const json::object answer = answer_of(response);
    CHECK(answer.at("pointer") == "/message_type");
    CHECK(answer.at("error").is_string());
    CHECK(backend.outcomes == std::vector<std::string>{"support:unprocessable"});
  }
  SECTION("GET is 405") {
    HttpRequest request = chatwoot_post(body);
    request.method(http::verb::get);
    CHECK(handle_ingest_request(request, settings, backend).result() ==
          http::status::method_not_allowed);
  }
  CHECK(backend.stored.empty());
}

TEST_CASE("adapter_route: mapped events are validated like posted ones", "[adapter_route]") {
  FakeBackend backend;
  replywatch::test::ChatwootMessage future;
  future.created_at = "2027-01-01T00:00:00.000Z";  // beyond max_future_skew
  const HttpResponse response =
      handle_ingest_request(chatwoot_post(replywatch::test::chatwoot_message_body(future)),
                            settings_with_adapter(), backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  CHECK(answer_of(response).at("rejected").as_array()[0].at("reason") == "too_far_in_future");
  CHECK(backend.rejected == std::vector<RejectReason>{RejectReason::kTooFarInFuture});
  CHECK(backend.outcomes == std::vector<std::string>{"support:rejected"});
}

TEST_CASE("adapter_route: transient failures are retried inside the budget", "[adapter_route]") {
  FakeBackend backend;
  const IngestSettings settings = settings_with_adapter();
  const HttpRequest request = chatwoot_post(replywatch::test::chatwoot_message_body({}));
  SECTION("restoring for a while, then ready: taken") {
    backend.ready_after = 3;
    CHECK(handle_ingest_request(request, settings, backend).result() == http::status::ok);
    CHECK(backend.stored.size() == 1);
    CHECK(backend.waited == 3 * replywatch::server::kAdapterRetryDelay);
  }
  SECTION("a write that fails twice, then succeeds: taken") {
    backend.failing_commits = 2;
    CHECK(handle_ingest_request(request, settings, backend).result() == http::status::ok);
    CHECK(backend.commit_calls == 3);
    CHECK(backend.stored.size() == 1);
  }
  SECTION("failing beyond the budget: 503, nothing taken") {
    backend.failing_commits = 1000;
    const HttpResponse response = handle_ingest_request(request, settings, backend);
    CHECK(response.result() == http::status::service_unavailable);
    CHECK(backend.commit_calls == replywatch::server::kAdapterAttempts);
    CHECK(backend.waited < std::chrono::seconds(5));
    CHECK(backend.outcomes == std::vector<std::string>{"support:unavailable"});
    CHECK(backend.stored.empty());
  }
}

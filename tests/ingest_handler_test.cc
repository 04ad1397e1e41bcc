// POST /v1/events (docs/events.md) without sockets: a fake backend records what the handler
// commits.
#include "ingest_handler.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "replywatch/event.h"
#include "replywatch/event_codec.h"
#include "replywatch/time.h"
#include "signature.h"

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;
using replywatch::RejectReason;
using replywatch::adapters::sign_request;
using replywatch::server::check_ingest_header;
using replywatch::server::handle_ingest_request;
using replywatch::server::HttpRequest;
using replywatch::server::HttpResponse;
using replywatch::server::IngestBackend;
using replywatch::server::IngestCommit;
using replywatch::server::IngestSettings;
using replywatch::server::kListedRejections;

namespace http = boost::beast::http;

namespace {

// 2026-11-22T15:00:00Z, the fake clock.
constexpr std::int64_t kNowMs = 1795359600000;
const Instant kNow = Instant(Duration(kNowMs));

class FakeBackend final : public IngestBackend {
 public:
  bool ready() const override { return is_ready; }
  Instant now() const override { return clock_now; }
  bool platform_known(std::string_view platform) const override {
    return platform == "tmall" || platform == "jd";
  }
  bool clock_suspect() const override { return suspect; }
  void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) override {
    commits.push_back(events);
    if (!durable) return done(IngestCommit{});
    IngestCommit result;
    result.durable = true;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Event& event = events[i];
      if (refused_shops.contains(event.shop)) {
        result.rejected.emplace_back(i, RejectReason::kTooManyShops);
        continue;
      }
      if (seen.insert({event.platform, event.shop, event.id}).second) {
        ++result.accepted;
      } else {
        ++result.duplicates;
      }
    }
    done(result);
  }
  void count_rejected_event(RejectReason reason) override { rejected.push_back(reason); }
  void count_refused_request(replywatch::server::RefusalReason reason,
                             std::string_view detail) override {
    refused.emplace_back(std::string(replywatch::server::refusal_label(reason)),
                         std::string(detail));
  }

  bool is_ready = true;
  bool durable = true;
  bool suspect = false;
  std::set<std::string> refused_shops;
  Instant clock_now = kNow;
  std::vector<std::vector<Event>> commits;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  std::vector<RejectReason> rejected;
  std::vector<std::pair<std::string, std::string>> refused;
};

std::string event_json(const std::string& id, std::int64_t ts_ms = kNowMs - 60'000,
                       const std::string& platform = "tmall",
                       const std::string& type = "buyer_message") {
  return R"({"id":")" + id + R"(","platform":")" + platform + R"(","shop":"s1","type":")" + type +
         R"(","conversation":"c1","ts":)" + std::to_string(ts_ms) + "}";
}

HttpRequest request(http::verb method, const std::string& target, const std::string& body,
                    std::optional<std::string> content_type) {
  HttpRequest req{method, target, 11};
  if (content_type) req.set(http::field::content_type, *content_type);
  req.body() = body;
  req.prepare_payload();
  return req;
}

HttpRequest post(const std::string& body,
                 std::optional<std::string> content_type = std::string("application/json"),
                 const std::string& target = "/v1/events") {
  return request(http::verb::post, target, body, std::move(content_type));
}

boost::json::object json_of(const HttpResponse& response) {
  INFO(response.body());
  CHECK(response[http::field::content_type] == "application/json");
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(response.body(), error);
  REQUIRE_FALSE(error);
  REQUIRE(value.is_object());
  return value.as_object();
}

// One item of the answer's "rejected" array.
struct Rejected {
  std::int64_t index = -1;
  std::string reason;
  std::string field;  // empty when absent
  bool operator==(const Rejected&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Rejected& r) {
  return out << "{" << r.index << ", " << r.reason << ", " << r.field << "}";
}

// The per-event answer.
struct Answer {
  std::int64_t accepted = -1;
  std::int64_t duplicates = -1;
  std::vector<Rejected> rejected;
};

Answer answer_of(const HttpResponse& response) {
  const boost::json::object body = json_of(response);
  Answer answer;
  REQUIRE(body.contains("accepted"));
  REQUIRE(body.contains("duplicates"));
  REQUIRE(body.contains("rejected"));
  answer.accepted = body.at("accepted").to_number<std::int64_t>();
  answer.duplicates = body.at("duplicates").to_number<std::int64_t>();
  for (const auto& item : body.at("rejected").as_array()) {
    const auto& object = item.as_object();
    std::string field;
    if (const auto* f = object.if_contains("field")) field = std::string(f->as_string());
    answer.rejected.push_back(Rejected{object.at("index").to_number<std::int64_t>(),
                                       std::string(object.at("reason").as_string()), field});
  }
  return answer;
}

std::string error_of(const HttpResponse& response) {
  const boost::json::object body = json_of(response);
  REQUIRE(body.contains("error"));
  return std::string(body.at("error").as_string());
}

}  // namespace

TEST_CASE("ingest: one event object is committed and answered 200", "[ingest]") {
  FakeBackend backend;
  const HttpResponse response =
      handle_ingest_request(post(event_json("m1")), IngestSettings{}, backend);
  CHECK(response.result() == http::status::ok);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.duplicates == 0);
  CHECK(answer.rejected.empty());
  REQUIRE(backend.commits.size() == 1);
  REQUIRE(backend.commits[0].size() == 1);
  const Event& event = backend.commits[0][0];
  CHECK(event.id == "m1");
  CHECK(event.platform == "tmall");
  CHECK(event.shop == "s1");
  CHECK(event.conversation == "c1");
  CHECK(event.type == EventType::kBuyerMessage);
  CHECK(event.ts == kNow - std::chrono::minutes(1));
  CHECK(backend.refused.empty());
  CHECK(backend.rejected.empty());
}

TEST_CASE("ingest: a JSON array commits its events in order in one commit", "[ingest]") {
  FakeBackend backend;
  const std::string body = "[" + event_json("m1") + "," + event_json("m2") + "," +
                           event_json("m3", kNowMs - 1000, "jd", "conversation_closed") + "]";
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(response.result() == http::status::ok);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 3);
  CHECK(answer.rejected.empty());
  REQUIRE(backend.commits.size() == 1);
  REQUIRE(backend.commits[0].size() == 3);
  CHECK(backend.commits[0][0].id == "m1");
  CHECK(backend.commits[0][1].id == "m2");
  CHECK(backend.commits[0][2].id == "m3");
  CHECK(backend.commits[0][2].platform == "jd");
  CHECK(backend.commits[0][2].type == EventType::kConversationClosed);
}

TEST_CASE("ingest: duplicates the backend reports are counted in the answer", "[ingest]") {
  FakeBackend backend;
  REQUIRE(handle_ingest_request(post(event_json("m1")), IngestSettings{}, backend).result() ==
          http::status::ok);
  const std::string body = "[" + event_json("m1") + "," + event_json("m2") + "]";
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(response.result() == http::status::ok);  // a duplicate is acknowledged, not rejected
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.duplicates == 1);
  CHECK(answer.rejected.empty());
}

TEST_CASE("ingest: an empty JSON array is answered 200 with nothing committed", "[ingest]") {
  FakeBackend backend;
  const HttpResponse response = handle_ingest_request(post("[]"), IngestSettings{}, backend);
  CHECK(response.result() == http::status::ok);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 0);
  CHECK(answer.duplicates == 0);
  CHECK(answer.rejected.empty());
  CHECK(backend.commits.empty());
}

TEST_CASE("ingest: NDJSON skips blank lines and counts indices over the other lines", "[ingest]") {
  FakeBackend backend;
  const std::string body = "\n" + event_json("m1") + "\n\n   \n" +
                           R"({"platform":"tmall","shop":"s1"})" + "\r\n\t\n" + event_json("m2") +
                           "\r\n" + "not json\n" + event_json("m3");
  const HttpResponse response =
      handle_ingest_request(post(body, "application/x-ndjson"), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 3);
  CHECK(answer.duplicates == 0);
  CHECK(answer.rejected == std::vector<Rejected>{{1, "missing_field", "id"}, {3, "bad_json", ""}});
  REQUIRE(backend.commits.size() == 1);
  REQUIRE(backend.commits[0].size() == 3);
  CHECK(backend.commits[0][0].id == "m1");
  CHECK(backend.commits[0][1].id == "m2");
  CHECK(backend.commits[0][2].id == "m3");
  CHECK(backend.rejected ==
        std::vector<RejectReason>{RejectReason::kMissingField, RejectReason::kBadJson});
}

TEST_CASE("ingest: application/ndjson is NDJSON too and one array line is not an event",
          "[ingest]") {
  FakeBackend backend;
  const std::string body = event_json("m1") + "\n[" + event_json("m2") + "]\n";
  const HttpResponse response =
      handle_ingest_request(post(body, "application/ndjson"), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.rejected == std::vector<Rejected>{{1, "not_an_object", ""}});
}

TEST_CASE("ingest: invalid events are answered 422 by index and reason, valid ones still taken",
          "[ingest]") {
  FakeBackend backend;
  const std::string body =
      "[" + event_json("m1") + "," + R"({"platform":"tmall","shop":"s1"})" + "," +
      event_json("m3", kNowMs, "taobao") + "," + event_json("m4") + "," +
      R"({"id":"m5","platform":"tmall","shop":"s1","type":"buyer_message","conversation":"c1","ts":"yesterday"})" +
      "," + "42" + "]";
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 2);
  CHECK(answer.duplicates == 0);
  CHECK(answer.rejected == std::vector<Rejected>{{1, "missing_field", "id"},
                                                 {2, "unknown_platform", "platform"},
                                                 {4, "bad_field", "ts"},
                                                 {5, "not_an_object", ""}});
  REQUIRE(backend.commits.size() == 1);
  REQUIRE(backend.commits[0].size() == 2);
  CHECK(backend.commits[0][0].id == "m1");
  CHECK(backend.commits[0][1].id == "m4");
  CHECK(backend.rejected ==
        std::vector<RejectReason>{RejectReason::kMissingField, RejectReason::kUnknownPlatform,
                                  RejectReason::kBadField, RejectReason::kNotAnObject});
}

TEST_CASE("ingest: a body of only invalid events is 422 and commits nothing", "[ingest]") {
  FakeBackend backend;
  const HttpResponse response =
      handle_ingest_request(post(event_json("m1", kNowMs, "taobao")), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 0);
  CHECK(answer.rejected == std::vector<Rejected>{{0, "unknown_platform", "platform"}});
  CHECK(backend.commits.empty());
}

TEST_CASE("ingest: an event more than max_future_skew ahead of now is too_far_in_future",
          "[ingest]") {
  FakeBackend backend;
  const std::int64_t skew = 5 * 60'000;
  const std::string body = "[" + event_json("at_limit", kNowMs + skew) + "," +
                           event_json("past_limit", kNowMs + skew + 1) + "," +
                           event_json("far", kNowMs + 86'400'000) + "]";
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.rejected ==
        std::vector<Rejected>{{1, "too_far_in_future", "ts"}, {2, "too_far_in_future", "ts"}});
  REQUIRE(backend.commits.size() == 1);
  REQUIRE(backend.commits[0].size() == 1);
  CHECK(backend.commits[0][0].id == "at_limit");
  CHECK(backend.rejected ==
        std::vector<RejectReason>{RejectReason::kTooFarInFuture, RejectReason::kTooFarInFuture});

  // The limit follows the settings and the backend's clock.
  FakeBackend later;
  later.clock_now = kNow + std::chrono::hours(1);
  IngestSettings tight;
  tight.max_future_skew = std::chrono::seconds(1);
  const std::string next = "[" + event_json("ok", kNowMs + 3'601'000) + "," +
                           event_json("ahead", kNowMs + 3'601'001) + "]";
  const Answer second = answer_of(handle_ingest_request(post(next), tight, later));
  CHECK(second.accepted == 1);
  CHECK(second.rejected == std::vector<Rejected>{{1, "too_far_in_future", "ts"}});
}

TEST_CASE("ingest: only POST /v1/events exists", "[ingest]") {
  FakeBackend backend;
  for (const char* target :
       {"/", "/v1/event", "/v1/events/", "/v1/events/x", "/metrics", "/V1/EVENTS"}) {
    INFO(target);
    const HttpResponse response = handle_ingest_request(
        post(event_json("m1"), "application/json", target), IngestSettings{}, backend);
    CHECK(response.result() == http::status::not_found);
    CHECK_FALSE(error_of(response).empty());
  }
  CHECK(backend.refused.size() == 6);
  CHECK(backend.refused[0].first == "not_found");
  // A query string does not change the path.
  const HttpResponse with_query =
      handle_ingest_request(post(event_json("m1"), "application/json", "/v1/events?source=tmall"),
                            IngestSettings{}, backend);
  CHECK(with_query.result() == http::status::ok);
  CHECK(backend.commits.size() == 1);
}

TEST_CASE("ingest: other methods get 405 with Allow: POST", "[ingest]") {
  FakeBackend backend;
  for (const http::verb method : {http::verb::get, http::verb::put, http::verb::delete_,
                                  http::verb::head, http::verb::patch}) {
    INFO(http::to_string(method));
    const HttpResponse response =
        handle_ingest_request(request(method, "/v1/events", event_json("m1"), "application/json"),
                              IngestSettings{}, backend);
    CHECK(response.result() == http::status::method_not_allowed);
    CHECK(response[http::field::allow] == "POST");
  }
  CHECK(backend.refused.size() == 5);
  CHECK(backend.refused[0] == std::pair<std::string, std::string>{"method_not_allowed", "GET"});
  CHECK(backend.commits.empty());
}

TEST_CASE("ingest: a missing or wrong Content-Type gets 415", "[ingest]") {
  FakeBackend backend;
  for (const std::optional<std::string>& type :
       {std::optional<std::string>(), std::optional<std::string>("text/plain"),
        std::optional<std::string>("application/jsonl"),
        std::optional<std::string>("application/x-www-form-urlencoded"),
        std::optional<std::string>("json"), std::optional<std::string>("")}) {
    INFO(type.value_or("(none)"));
    const HttpResponse response =
        handle_ingest_request(post(event_json("m1"), type), IngestSettings{}, backend);
    CHECK(response.result() == http::status::unsupported_media_type);
    CHECK_FALSE(error_of(response).empty());
  }
  CHECK(backend.commits.empty());
  CHECK(backend.refused.size() == 6);
  CHECK(backend.refused[1] ==
        std::pair<std::string, std::string>{"unsupported_media_type", "text/plain"});
}

TEST_CASE("ingest: Content-Type parameters and case do not matter", "[ingest]") {
  FakeBackend backend;
  int n = 0;
  for (const char* type :
       {"application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON",
        "application/json ; charset=utf-8", "application/x-ndjson; charset=utf-8"}) {
    INFO(type);
    const HttpResponse response = handle_ingest_request(
        post(event_json("m" + std::to_string(n++)), std::string(type)), IngestSettings{}, backend);
    CHECK(response.result() == http::status::ok);
    CHECK(answer_of(response).accepted == 1);
  }
  CHECK(backend.commits.size() == 5);
}

TEST_CASE("ingest: an unreadable body gets 400", "[ingest]") {
  FakeBackend backend;
  for (const char* body : {"", "   ", "\r\n", "{", "{\"id\":", "not json", "[1,", "42", "\"text\"",
                           "null", "true", "[] []"}) {
    INFO("body: " << body);
    const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
    CHECK(response.result() == http::status::bad_request);
    CHECK_FALSE(error_of(response).empty());
  }
  for (const char* body : {"", " \t ", "\n\n", "\r\n \n"}) {
    INFO("NDJSON body: " << body);
    const HttpResponse response =
        handle_ingest_request(post(body, "application/x-ndjson"), IngestSettings{}, backend);
    CHECK(response.result() == http::status::bad_request);
    CHECK(error_of(response) == "empty body");
  }
  CHECK(backend.commits.empty());
  CHECK(backend.rejected.empty());  // refused as a whole, not per event
  for (const auto& [reason, detail] : backend.refused) CHECK(reason == "unreadable_body");
}

TEST_CASE("ingest: a signed request is taken when a secret is set", "[ingest]") {
  FakeBackend backend;
  IngestSettings settings;
  settings.secret = "s3cret";
  const std::string body = "[" + event_json("m1") + "," + event_json("m2") + "]";
  HttpRequest req = post(body);
  const std::string timestamp = std::to_string(kNowMs / 1000 - 10);
  req.set("X-Replywatch-Timestamp", timestamp);
  req.set("X-Replywatch-Signature", "sha256=" + sign_request("s3cret", timestamp, body));
  const HttpResponse response = handle_ingest_request(req, settings, backend);
  CHECK(response.result() == http::status::ok);
  CHECK(answer_of(response).accepted == 2);
  CHECK(backend.commits.size() == 1);
}

TEST_CASE("ingest: every bad signature gets 401 and commits nothing", "[ingest]") {
  IngestSettings settings;
  settings.secret = "s3cret";
  const std::string body = event_json("m1");
  const std::string now_ts = std::to_string(kNowMs / 1000);
  const std::string good = "sha256=" + sign_request("s3cret", now_ts, body);
  std::string upper = good.substr(7);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  struct Case {
    const char* what;
    std::optional<std::string> timestamp;
    std::optional<std::string> signature;
    std::string body;
  };
  const std::string stale_ts = std::to_string(kNowMs / 1000 - 301);
  const std::string ahead_ts = std::to_string(kNowMs / 1000 + 301);
  const std::vector<Case> cases = {
      {"no headers", std::nullopt, std::nullopt, body},
      {"no signature", now_ts, std::nullopt, body},
      {"no timestamp", std::nullopt, good, body},
      {"timestamp not seconds", std::string("soon"), good, body},
      {"timestamp in milliseconds", std::to_string(kNowMs), good, body},
      {"stale", stale_ts, "sha256=" + sign_request("s3cret", stale_ts, body), body},
      {"ahead", ahead_ts, "sha256=" + sign_request("s3cret", ahead_ts, body), body},
      {"other secret", now_ts, "sha256=" + sign_request("other", now_ts, body), body},
      {"body changed", now_ts, good, event_json("m2")},
      {"uppercase hex", now_ts, "sha256=" + upper, body},
      {"no prefix", now_ts, good.substr(7), body},
      {"too short", now_ts, good.substr(0, good.size() - 1), body},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    FakeBackend backend;
    HttpRequest req = post(c.body);
    if (c.timestamp) req.set("X-Replywatch-Timestamp", *c.timestamp);
    if (c.signature) req.set("X-Replywatch-Signature", *c.signature);
    const HttpResponse response = handle_ingest_request(req, settings, backend);
    CHECK(response.result() == http::status::unauthorized);
    CHECK_FALSE(error_of(response).empty());
    CHECK(backend.commits.empty());
    REQUIRE(backend.refused.size() == 1);
    CHECK(backend.refused[0].first == "bad_signature");
  }
}

TEST_CASE("ingest: without a secret, signature headers are not needed", "[ingest]") {
  FakeBackend backend;
  HttpRequest req = post(event_json("m1"));
  req.set("X-Replywatch-Signature", "sha256=garbage");
  CHECK(handle_ingest_request(req, IngestSettings{}, backend).result() == http::status::ok);
}

TEST_CASE("ingest: 503 with Retry-After while the backend is restoring", "[ingest]") {
  FakeBackend backend;
  backend.is_ready = false;
  const HttpResponse response =
      handle_ingest_request(post(event_json("m1")), IngestSettings{}, backend);
  CHECK(response.result() == http::status::service_unavailable);
  CHECK(response[http::field::retry_after] == "1");
  CHECK_FALSE(error_of(response).empty());
  CHECK(backend.commits.empty());
  REQUIRE(backend.refused.size() == 1);
  CHECK(backend.refused[0].first == "not_ready");

  backend.is_ready = true;
  CHECK(handle_ingest_request(post(event_json("m1")), IngestSettings{}, backend).result() ==
        http::status::ok);
}

TEST_CASE("ingest: 503 when the events cannot be made durable", "[ingest]") {
  FakeBackend backend;
  backend.durable = false;
  const std::string body = "[" + event_json("m1") + "," + event_json("m2", kNowMs, "taobao") + "]";
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(response.result() == http::status::service_unavailable);
  CHECK(response[http::field::retry_after] == "1");
  const boost::json::object answer = json_of(response);
  CHECK(answer.contains("error"));
  CHECK_FALSE(answer.contains("accepted"));  // nothing was taken: no per-event answer
  CHECK(backend.commits.size() == 1);        // it was tried

  // Once the backend is durable again, the retry is taken.
  backend.durable = true;
  const HttpResponse retry = handle_ingest_request(post(body), IngestSettings{}, backend);
  CHECK(retry.result() == http::status::unprocessable_entity);
  CHECK(answer_of(retry).accepted == 1);
}

TEST_CASE("ingest: requests refused as a whole never reach commit", "[ingest]") {
  IngestSettings signed_settings;
  signed_settings.secret = "s3cret";
  const std::string good = event_json("m1");
  const std::vector<std::pair<http::status, HttpRequest>> refused = {
      {http::status::not_found, post(good, "application/json", "/v2/events")},
      {http::status::method_not_allowed,
       request(http::verb::get, "/v1/events", good, "application/json")},
      {http::status::unsupported_media_type, post(good, "text/plain")},
      {http::status::bad_request, post("{")},
      {http::status::bad_request, post("")},
  };
  for (const auto& [status, req] : refused) {
    INFO(static_cast<int>(status));
    FakeBackend backend;
    CHECK(handle_ingest_request(req, IngestSettings{}, backend).result() == status);
    CHECK(backend.commits.empty());
    CHECK(backend.refused.size() == 1);
    FakeBackend signed_backend;
    const HttpResponse signed_response =
        handle_ingest_request(req, signed_settings, signed_backend);
    // With a secret, an unsigned request is refused too (404 and 405 come first).
    if (status == http::status::not_found || status == http::status::method_not_allowed) {
      CHECK(signed_response.result() == status);
    } else {
      CHECK(signed_response.result() == http::status::unauthorized);
    }
    CHECK(signed_backend.commits.empty());
  }
}

TEST_CASE("ingest: a body of junk lists the first rejections and counts them all", "[ingest]") {
  // The review's 16 MiB body of "1\n" answered 8.4 M rejection objects (343 MiB).
  FakeBackend backend;
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "1\n";
  body += event_json("good") + "\n";
  const HttpResponse response =
      handle_ingest_request(post(body, "application/x-ndjson"), IngestSettings{}, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  CHECK(response.body().size() < 10'000);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  REQUIRE(answer.rejected.size() == kListedRejections);
  CHECK(answer.rejected.front() == Rejected{0, "not_an_object", ""});
  CHECK(answer.rejected.back().index == static_cast<std::int64_t>(kListedRejections) - 1);
  CHECK(json_of(response).at("rejected_total").to_number<std::int64_t>() == 5000);
  CHECK(backend.rejected.size() == 5000);  // every one is counted in the metric
}

TEST_CASE("ingest: the listed rejections are the first by index across all checks", "[ingest]") {
  FakeBackend backend;
  std::string body = "[";
  for (int i = 0; i < 150; ++i) body += "1,";
  body += event_json("future", kNowMs + 3'600'000) + "]";
  // 150 decode rejections, then a time check rejection at index 150.
  const HttpResponse response = handle_ingest_request(post(body), IngestSettings{}, backend);
  const Answer answer = answer_of(response);
  REQUIRE(answer.rejected.size() == kListedRejections);
  CHECK(answer.rejected.back().index == 99);
  CHECK(json_of(response).at("rejected_total").to_number<std::int64_t>() == 151);
  // A short list has no total: the answer keeps the contract's shape.
  const HttpResponse small =
      handle_ingest_request(post("[1," + event_json("x") + "]"), IngestSettings{}, backend);
  CHECK_FALSE(json_of(small).contains("rejected_total"));
}

TEST_CASE("ingest: more events than max_events_per_request is 413 and decodes nothing",
          "[ingest]") {
  FakeBackend backend;
  IngestSettings settings;
  settings.max_events_per_request = 3;
  const std::string four = event_json("a") + "\n" + event_json("b") + "\n\n" + event_json("c") +
                           "\n" + event_json("d") + "\n";
  HttpResponse response =
      handle_ingest_request(post(four, "application/x-ndjson"), settings, backend);
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(backend.commits.empty());
  CHECK(backend.rejected.empty());
  REQUIRE(backend.refused.size() == 1);
  CHECK(backend.refused[0].first == "too_many_events");
  // Blank lines do not count; commas inside strings and nested values do not either.
  const std::string three = event_json("a") + "\n\n\n" + event_json("b") + "\n" + event_json("c");
  CHECK(handle_ingest_request(post(three, "application/x-ndjson"), settings, backend).result() ==
        http::status::ok);
  const std::string array =
      "[" + event_json("e") + R"(,{"x":[1,2,3],"y":"a,b,c"},)" + event_json("f") + "]";
  CHECK(handle_ingest_request(post(array), settings, backend).result() ==
        http::status::unprocessable_entity);
  CHECK(handle_ingest_request(post("[1,2,3,4]"), settings, backend).result() ==
        http::status::payload_too_large);
}

TEST_CASE("ingest: decoding is cut into slices run through the backend", "[ingest]") {
  struct Deferring final : public IngestBackend {
    bool ready() const override { return true; }
    Instant now() const override { return kNow; }
    bool platform_known(std::string_view platform) const override { return platform == "tmall"; }
    void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) override {
      IngestCommit result;
      result.durable = true;
      result.accepted = events.size();
      done(result);
    }
    void count_rejected_event(RejectReason) override {}
    void count_refused_request(replywatch::server::RefusalReason, std::string_view) override {}
    void defer(std::function<void()> step) override { steps.push_back(std::move(step)); }
    std::vector<std::function<void()>> steps;
  } backend;
  IngestSettings settings;
  settings.decode_slice = 10;
  std::string body;
  for (int i = 0; i < 35; ++i) body += event_json("e" + std::to_string(i)) + "\n";
  std::optional<HttpResponse> answer;
  replywatch::server::handle_ingest_request(
      post(body, "application/x-ndjson"), settings, backend,
      [&](HttpResponse response) { answer = std::move(response); });
  int turns = 0;
  while (!answer) {
    REQUIRE(backend.steps.size() == 1);
    auto step = std::move(backend.steps.back());
    backend.steps.clear();
    step();
    ++turns;
  }
  CHECK(turns == 3);  // 35 events in slices of 10: the first slice runs at once
  CHECK(answer_of(*answer).accepted == 35);
}

TEST_CASE("ingest: events older than max_event_age are too_old, before dedup", "[ingest]") {
  FakeBackend backend;
  IngestSettings settings;
  settings.max_event_age = std::chrono::hours(24) + std::chrono::seconds(2);
  const std::string body = "[" + event_json("zero", 0) + "," +
                           event_json("old", kNowMs - 25 * 3'600'000LL) + "," +
                           event_json("fresh", kNowMs - 23 * 3'600'000LL) + "]";
  const HttpResponse response = handle_ingest_request(post(body), settings, backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.rejected == std::vector<Rejected>{{0, "too_old", "ts"}, {1, "too_old", "ts"}});
  REQUIRE(backend.commits.size() == 1);
  CHECK(backend.commits[0].size() == 1);  // never offered, so never a duplicate later
  // Without an age limit (replay-like settings) the same events are taken.
  FakeBackend unlimited;
  CHECK(answer_of(handle_ingest_request(post(body), IngestSettings{}, unlimited)).accepted == 3);
}

TEST_CASE("ingest: while the clock is suspect a time rejection is 503 with Retry-After",
          "[ingest]") {
  FakeBackend backend;
  backend.suspect = true;
  IngestSettings settings;
  settings.max_event_age = std::chrono::hours(24);
  // The wall clock stepped back 10 minutes: real events look too far in the future.
  for (const std::int64_t ts : {kNowMs + 600'000, kNowMs - std::int64_t{25} * 3'600'000}) {
    const HttpResponse response = handle_ingest_request(
        post("[" + event_json("a") + "," + event_json("b", ts) + "]"), settings, backend);
    CHECK(response.result() == http::status::service_unavailable);
    CHECK_FALSE(response[http::field::retry_after].empty());
  }
  CHECK(backend.commits.empty());
  CHECK(backend.rejected.empty());
  REQUIRE(backend.refused.size() == 2);
  CHECK(backend.refused[0].first == "clock_suspect");
  // Events that pass the time checks are taken as usual.
  CHECK(handle_ingest_request(post(event_json("c")), settings, backend).result() ==
        http::status::ok);
  // A settled clock rejects for good.
  backend.suspect = false;
  CHECK(
      handle_ingest_request(post(event_json("d", kNowMs + 600'000)), settings, backend).result() ==
      http::status::unprocessable_entity);
}

TEST_CASE("ingest: shops refused at commit are too_many_shops at their body index", "[ingest]") {
  FakeBackend backend;
  backend.refused_shops = {"s1"};
  const std::string other = R"({"id":"o","platform":"tmall","shop":"s2","type":"buyer_message",)"
                            R"("conversation":"c","ts":)" +
                            std::to_string(kNowMs) + "}";
  const HttpResponse response = handle_ingest_request(
      post("[1," + other + "," + event_json("a") + "]"), IngestSettings{}, backend);
  const Answer answer = answer_of(response);
  CHECK(answer.accepted == 1);
  CHECK(answer.rejected ==
        std::vector<Rejected>{{0, "not_an_object", ""}, {2, "too_many_shops", "shop"}});
}

TEST_CASE("ingest: with a secret, the header alone is enough to refuse an unsigned webhook",
          "[ingest]") {
  FakeBackend backend;
  IngestSettings settings;
  settings.secret = "s3cret";
  const std::string now_ts = std::to_string(kNowMs / 1000);
  HttpRequest header{http::verb::post, "/v1/events", 11};
  header.set(http::field::content_length, "16777215");  // the body has not come yet
  auto check = [&](HttpRequest req) { return check_ingest_header(req, settings, backend); };
  const auto missing = check(header);
  REQUIRE(missing);
  CHECK(missing->result() == http::status::unauthorized);
  HttpRequest stale = header;
  stale.set("X-Replywatch-Timestamp", std::to_string(kNowMs / 1000 - 3600));
  stale.set("X-Replywatch-Signature", "sha256=" + std::string(64, 'a'));
  CHECK(check(stale)->result() == http::status::unauthorized);
  HttpRequest malformed = header;
  malformed.set("X-Replywatch-Timestamp", now_ts);
  malformed.set("X-Replywatch-Signature", "sha256=XYZ");
  CHECK(check(malformed)->result() == http::status::unauthorized);
  // Well-formed and fresh: the body decides (the HMAC needs it).
  HttpRequest plausible = malformed;
  plausible.set("X-Replywatch-Signature", "sha256=" + std::string(64, 'a'));
  CHECK_FALSE(check(plausible));
  CHECK(backend.refused.size() == 3);
  for (const auto& [reason, detail] : backend.refused) CHECK(reason == "bad_signature");
  // Other paths and methods, and no secret, are not the check's business.
  HttpRequest get{http::verb::get, "/v1/events", 11};
  CHECK_FALSE(check(get));
  CHECK_FALSE(check_ingest_header(header, IngestSettings{}, backend));
}

TEST_CASE("ingest: the usual answer has the exact bytes of the general one", "[ingest]") {
  FakeBackend backend;
  const HttpResponse one = handle_ingest_request(post(event_json("m1")), IngestSettings{}, backend);
  CHECK(one.body() == "{\"accepted\":1,\"duplicates\":0,\"rejected\":[]}\n");
  const HttpResponse again = handle_ingest_request(
      post("[" + event_json("m1") + "," + event_json("m2") + "]"), IngestSettings{}, backend);
  CHECK(again.body() == "{\"accepted\":1,\"duplicates\":1,\"rejected\":[]}\n");
  // A single object that is not JSON still gets the body-level 400, not a per-event 422.
  const HttpResponse bad = handle_ingest_request(post(R"({"id":"m3",)"), IngestSettings{}, backend);
  CHECK(bad.result() == http::status::bad_request);
}

TEST_CASE("ingest: a large NDJSON body decoded in two halves answers as decoded in one",
          "[ingest]") {
  // Off-loop work and loop steps are queued and run in the order the test chooses, so that the
  // far half finishes before, and after, the near one.
  struct Stepping final : public IngestBackend {
    bool ready() const override { return true; }
    Instant now() const override { return kNow; }
    bool platform_known(std::string_view platform) const override { return platform == "tmall"; }
    void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) override {
      committed = events;
      IngestCommit result;
      result.durable = true;
      result.accepted = events.size();
      done(result);
    }
    void count_rejected_event(RejectReason reason) override { rejected.push_back(reason); }
    void count_refused_request(replywatch::server::RefusalReason, std::string_view) override {}
    void defer(std::function<void()> step) override { steps.push_back(std::move(step)); }
    void run_off_loop(std::function<void()> work, std::function<void()> then) override {
      ++off_loop_runs;
      off_loop.emplace_back(std::move(work), std::move(then));
    }
    std::vector<std::function<void()>> steps;
    std::vector<std::pair<std::function<void()>, std::function<void()>>> off_loop;
    std::vector<Event> committed;
    std::vector<RejectReason> rejected;
    int off_loop_runs = 0;
  };
  std::string body;
  for (int i = 0; i < 60; ++i) {
    if (i % 7 == 3) {
      body += "{not json\n";
    } else if (i % 11 == 5) {
      body += event_json("x" + std::to_string(i), kNowMs - 60'000, "nowhere") + "\n";
    } else {
      body += event_json("e" + std::to_string(i)) + "\n";
    }
    if (i % 9 == 0) body += "  \n";  // blank: not counted as an index
  }
  auto run = [&](std::size_t split_bytes, bool far_first, Stepping& backend) {
    IngestSettings settings;
    settings.decode_slice = 8;
    settings.split_decode_bytes = split_bytes;
    std::optional<HttpResponse> answer;
    replywatch::server::handle_ingest_request(
        post(body, "application/x-ndjson"), settings, backend,
        [&](HttpResponse response) { answer = std::move(response); });
    if (far_first && !backend.off_loop.empty()) {
      backend.off_loop[0].first();
      backend.off_loop[0].second();
      backend.off_loop.clear();
    }
    while (!answer) {
      if (backend.steps.empty()) {
        REQUIRE(backend.off_loop.size() == 1);
        backend.off_loop[0].first();
        backend.off_loop[0].second();
        backend.off_loop.clear();
        continue;
      }
      auto step = std::move(backend.steps.front());
      backend.steps.erase(backend.steps.begin());
      step();
    }
    return *answer;
  };
  Stepping whole;
  const HttpResponse expected = run(body.size() + 1, false, whole);
  CHECK(whole.off_loop_runs == 0);
  for (const bool far_first : {true, false}) {
    Stepping halves;
    const HttpResponse response = run(body.size() / 4, far_first, halves);
    CHECK(halves.off_loop_runs == 1);
    CHECK(response.result() == expected.result());
    CHECK(response.body() == expected.body());
    CHECK(halves.rejected == whole.rejected);
    REQUIRE(halves.committed.size() == whole.committed.size());
    for (std::size_t i = 0; i < whole.committed.size(); ++i) {
      CHECK(halves.committed[i].id == whole.committed[i].id);
    }
  }
  CHECK(expected.result() == http::status::unprocessable_entity);
  CHECK(answer_of(expected).rejected.size() > 10);
}

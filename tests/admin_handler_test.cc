// The admin listener's routes without sockets: a fake backend answers and records calls.
#include "admin_handler.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "at_risk.h"

using replywatch::server::admin_host_allowed;
using replywatch::server::AdminBackend;
using replywatch::server::AdminSettings;
using replywatch::server::AtRiskQuery;
using replywatch::server::handle_admin_request;
using replywatch::server::HttpRequest;
using replywatch::server::HttpResponse;
using replywatch::server::ReloadOutcome;

namespace http = boost::beast::http;

namespace {

constexpr const char* kMetrics =
    "# HELP replywatch_rules_last_reload_successful Whether the last reload worked.\n"
    "# TYPE replywatch_rules_last_reload_successful gauge\n"
    "replywatch_rules_last_reload_successful 1\n";

class FakeBackend final : public AdminBackend {
 public:
  bool ready() const override { return is_ready; }
  std::string metrics_text() override {
    ++metrics_calls;
    return kMetrics;
  }
  void reload(std::string_view trigger, std::function<void(ReloadOutcome)> done) override {
    triggers.emplace_back(trigger);
    done(next_reload);
  }
  std::optional<boost::json::object> at_risk(const AtRiskQuery& query) override {
    queries.push_back(query);
    if (!is_ready) return std::nullopt;
    return boost::json::object{{"now", "2026-11-22T15:00:00.000Z"}, {"slas", boost::json::array{}}};
  }
  void count_refused_request(replywatch::server::RefusalReason reason,
                             std::string_view detail) override {
    refused.emplace_back(std::string(replywatch::server::refusal_label(reason)),
                         std::string(detail));
  }

  bool is_ready = true;
  ReloadOutcome next_reload;
  int metrics_calls = 0;
  std::vector<std::string> triggers;
  std::vector<AtRiskQuery> queries;
  std::vector<std::pair<std::string, std::string>> refused;
};

HttpRequest request(http::verb method, const std::string& target) {
  HttpRequest req{method, target, 11};
  req.prepare_payload();
  return req;
}

HttpRequest get(const std::string& target) { return request(http::verb::get, target); }

boost::json::object json_of(const HttpResponse& response) {
  INFO(response.body());
  CHECK(response[http::field::content_type] == "application/json");
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(response.body(), error);
  REQUIRE_FALSE(error);
  REQUIRE(value.is_object());
  return value.as_object();
}

}  // namespace

TEST_CASE("admin: /metrics is Prometheus text format 0.0.4", "[admin]") {
  FakeBackend backend;
  const HttpResponse response = handle_admin_request(get("/metrics"), backend);
  CHECK(response.result() == http::status::ok);
  CHECK(response[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(response.body() == kMetrics);
  CHECK(backend.metrics_calls == 1);
  // A query string does not change the route.
  CHECK(handle_admin_request(get("/metrics?name[]=x"), backend).result() == http::status::ok);
  CHECK(backend.metrics_calls == 2);
}

TEST_CASE("admin: /metrics is gzip'd when the scraper asks", "[admin]") {
  FakeBackend backend;
  HttpRequest asking = get("/metrics");
  asking.set(http::field::accept_encoding, "gzip");
  const HttpResponse compressed = handle_admin_request(asking, backend);
  CHECK(compressed.result() == http::status::ok);
  CHECK(compressed[http::field::content_encoding] == "gzip");
  CHECK(compressed[http::field::vary] == "Accept-Encoding");
  CHECK(compressed[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  REQUIRE(compressed.body().size() > 2);
  CHECK(static_cast<unsigned char>(compressed.body()[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(compressed.body()[1]) == 0x8b);

  HttpRequest refusing = get("/metrics");
  refusing.set(http::field::accept_encoding, "gzip;q=0, identity");
  const HttpResponse plain = handle_admin_request(refusing, backend);
  CHECK(plain[http::field::content_encoding].empty());
  CHECK(plain[http::field::vary] == "Accept-Encoding");
  CHECK(plain.body() == kMetrics);
}

TEST_CASE("admin: /metrics answers GET only", "[admin]") {
  FakeBackend backend;
  const HttpResponse response =
      handle_admin_request(request(http::verb::post, "/metrics"), backend);
  CHECK(response.result() == http::status::method_not_allowed);
  CHECK(response[http::field::allow] == "GET");
  CHECK(backend.metrics_calls == 0);
  REQUIRE(backend.refused.size() == 1);
  CHECK(backend.refused[0].first == "method_not_allowed");
  CHECK(backend.refused[0].second == "POST");
}

TEST_CASE("admin: /-/healthy is 200 whether or not state is restored", "[admin]") {
  FakeBackend backend;
  for (const bool ready : {false, true}) {
    backend.is_ready = ready;
    const HttpResponse response = handle_admin_request(get("/-/healthy"), backend);
    CHECK(response.result() == http::status::ok);
    CHECK_FALSE(response.body().empty());
  }
  CHECK(handle_admin_request(request(http::verb::delete_, "/-/healthy"), backend).result() ==
        http::status::method_not_allowed);
}

TEST_CASE("admin: /-/ready is 503 while restoring, then 200", "[admin]") {
  FakeBackend backend;
  backend.is_ready = false;
  const HttpResponse restoring = handle_admin_request(get("/-/ready"), backend);
  CHECK(restoring.result() == http::status::service_unavailable);
  CHECK_FALSE(restoring.body().empty());
  backend.is_ready = true;
  const HttpResponse ready = handle_admin_request(get("/-/ready"), backend);
  CHECK(ready.result() == http::status::ok);
  CHECK_FALSE(ready.body().empty());
  CHECK(handle_admin_request(request(http::verb::post, "/-/ready"), backend).result() ==
        http::status::method_not_allowed);
}

TEST_CASE("admin: POST /-/reload that works is 200 with what was loaded", "[admin]") {
  FakeBackend backend;
  backend.next_reload.ok = true;
  backend.next_reload.platforms = 5;
  const HttpResponse response =
      handle_admin_request(request(http::verb::post, "/-/reload"), backend);
  CHECK(response.result() == http::status::ok);
  const boost::json::object body = json_of(response);
  CHECK(body.at("status").as_string() == "success");
  CHECK(body.at("platforms").to_number<std::int64_t>() == 5);
  CHECK(body.at("state").as_string() == "rebuilding from the journal");
  CHECK_FALSE(body.contains("errors"));
  REQUIRE(backend.triggers.size() == 1);
  CHECK(backend.triggers[0] == "POST /-/reload");
  // PUT is taken too (Prometheus' own /-/reload takes both).
  CHECK(handle_admin_request(request(http::verb::put, "/-/reload"), backend).result() ==
        http::status::ok);
  CHECK(backend.triggers.size() == 2);
}

TEST_CASE("admin: POST /-/reload that fails is 422 with every error", "[admin]") {
  FakeBackend backend;
  backend.next_reload.ok = false;
  backend.next_reload.errors = {"rules/tmall.yaml:12:5: unknown key \"deadlin\"",
                                "rules/jd.yaml:3:11: unknown time zone \"Asia/Pekin\""};
  const HttpResponse response =
      handle_admin_request(request(http::verb::post, "/-/reload"), backend);
  CHECK(response.result() == http::status::unprocessable_entity);
  const boost::json::object body = json_of(response);
  CHECK(body.at("status").as_string() == "error");
  const boost::json::array& errors = body.at("errors").as_array();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].as_string() == "rules/tmall.yaml:12:5: unknown key \"deadlin\"");
  CHECK(errors[1].as_string() == "rules/jd.yaml:3:11: unknown time zone \"Asia/Pekin\"");
  CHECK(backend.triggers.size() == 1);
}

TEST_CASE("admin: GET /-/reload is 405 and reloads nothing", "[admin]") {
  FakeBackend backend;
  backend.next_reload.ok = true;
  const HttpResponse response = handle_admin_request(get("/-/reload"), backend);
  CHECK(response.result() == http::status::method_not_allowed);
  CHECK(response[http::field::allow] == "POST, PUT");
  CHECK(backend.triggers.empty());
  REQUIRE(backend.refused.size() == 1);
  CHECK(backend.refused[0].first == "method_not_allowed");
}

TEST_CASE("admin: /v1/at-risk passes the parsed query to the backend", "[admin]") {
  FakeBackend backend;
  const HttpResponse response = handle_admin_request(
      get("/v1/at-risk?platform=tmall&shop=my%20shop&limit=5&at_risk_only=true"), backend);
  CHECK(response.result() == http::status::ok);
  const boost::json::object body = json_of(response);
  CHECK(body.contains("slas"));
  REQUIRE(backend.queries.size() == 1);
  const AtRiskQuery& query = backend.queries[0];
  CHECK(query.platform == std::optional<std::string>("tmall"));
  CHECK(query.shop == std::optional<std::string>("my shop"));
  CHECK(query.limit == 5);
  CHECK(query.at_risk_only);

  const HttpResponse plain = handle_admin_request(get("/v1/at-risk"), backend);
  CHECK(plain.result() == http::status::ok);
  REQUIRE(backend.queries.size() == 2);
  CHECK_FALSE(backend.queries[1].platform.has_value());
  CHECK_FALSE(backend.queries[1].shop.has_value());
  CHECK(backend.queries[1].limit == 20);
  CHECK_FALSE(backend.queries[1].at_risk_only);
}

TEST_CASE("admin: /v1/at-risk with a bad query is 400 and asks the backend nothing", "[admin]") {
  FakeBackend backend;
  for (const char* target :
       {"/v1/at-risk?color=red", "/v1/at-risk?limit=0", "/v1/at-risk?limit=abc",
        "/v1/at-risk?limit=1001", "/v1/at-risk?limit=-1", "/v1/at-risk?shop=%zz",
        "/v1/at-risk?at_risk_only=yes"}) {
    INFO(target);
    const HttpResponse response = handle_admin_request(get(target), backend);
    CHECK(response.result() == http::status::bad_request);
    const boost::json::object body = json_of(response);
    REQUIRE(body.contains("error"));
    CHECK_FALSE(body.at("error").as_string().empty());
  }
  CHECK(backend.queries.empty());
  CHECK(backend.refused.size() == 7);
  for (const auto& [reason, detail] : backend.refused) CHECK(reason == "bad_query");
  CHECK_THAT(backend.refused[0].second, Catch::Contains("color"));
}

TEST_CASE("admin: /v1/at-risk is 503 while restoring and GET only", "[admin]") {
  FakeBackend backend;
  backend.is_ready = false;
  const HttpResponse response = handle_admin_request(get("/v1/at-risk"), backend);
  CHECK(response.result() == http::status::service_unavailable);
  CHECK(json_of(response).contains("error"));
  CHECK(handle_admin_request(request(http::verb::post, "/v1/at-risk"), backend).result() ==
        http::status::method_not_allowed);
}

TEST_CASE("admin: an unknown path is 404", "[admin]") {
  FakeBackend backend;
  for (const char* target : {"/nope", "/metrics/", "/-/reload/x", "/v1/events", "/v1/at-risk/x"}) {
    INFO(target);
    CHECK(handle_admin_request(get(target), backend).result() == http::status::not_found);
  }
  CHECK(backend.refused.size() == 5);
  CHECK(backend.refused[0] == std::pair<std::string, std::string>{"not_found", "/nope"});
  CHECK(backend.metrics_calls == 0);
  CHECK(backend.triggers.empty());
  CHECK(backend.queries.empty());
}

TEST_CASE("admin: / lists the routes", "[admin]") {
  FakeBackend backend;
  const HttpResponse response = handle_admin_request(get("/"), backend);
  CHECK(response.result() == http::status::ok);
  for (const char* route : {"/metrics", "/-/healthy", "/-/ready", "/-/reload", "/v1/at-risk"}) {
    CHECK_THAT(response.body(), Catch::Contains(route));
  }
}

TEST_CASE("admin: a foreign Host is refused on every route (DNS rebinding)", "[admin]") {
  FakeBackend backend;
  for (const char* target : {"/v1/at-risk", "/metrics", "/-/healthy"}) {
    HttpRequest req = get(target);
    req.set(http::field::host, "evil.example:9871");
    INFO(target);
    CHECK(handle_admin_request(req, backend).result() == http::status::forbidden);
  }
  CHECK(backend.queries.empty());
  CHECK(backend.metrics_calls == 0);
  REQUIRE(backend.refused.size() == 3);
  CHECK(backend.refused[0] ==
        std::pair<std::string, std::string>{"forbidden_host", "evil.example:9871"});
  for (const char* host : {"127.0.0.1:9871", "localhost:9871", "[::1]:9871", "LOCALHOST"}) {
    HttpRequest req = get("/v1/at-risk");
    req.set(http::field::host, host);
    INFO(host);
    CHECK(handle_admin_request(req, backend).result() == http::status::ok);
  }
  AdminSettings settings;
  settings.allowed_hosts = {"replywatch.internal"};
  HttpRequest named = get("/metrics");
  named.set(http::field::host, "replywatch.internal:9871");
  CHECK(handle_admin_request(named, backend).result() == http::status::forbidden);
  CHECK(handle_admin_request(named, backend, settings).result() == http::status::ok);
  CHECK(admin_host_allowed("Replywatch.Internal", settings));
  CHECK_FALSE(admin_host_allowed("replywatch.internal.evil.example", settings));
}

TEST_CASE("admin: a reload from a browser is refused (foreign Origin, form content type)",
          "[admin]") {
  FakeBackend backend;
  backend.next_reload.ok = true;
  HttpRequest foreign = request(http::verb::post, "/-/reload");
  foreign.set(http::field::origin, "https://evil.example");
  CHECK(handle_admin_request(foreign, backend).result() == http::status::forbidden);
  HttpRequest null_origin = request(http::verb::post, "/-/reload");
  null_origin.set(http::field::origin, "null");
  CHECK(handle_admin_request(null_origin, backend).result() == http::status::forbidden);
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "Text/Plain;charset=utf-8"}) {
    HttpRequest form = request(http::verb::post, "/-/reload");
    form.set(http::field::content_type, type);
    INFO(type);
    CHECK(handle_admin_request(form, backend).result() == http::status::unsupported_media_type);
  }
  CHECK(backend.triggers.empty());
  CHECK(backend.refused.size() == 6);
  CHECK(backend.refused[0].first == "forbidden_origin");
  CHECK(backend.refused[2].first == "unsupported_media_type");
  // curl -X POST, or the same origin, still reloads.
  CHECK(handle_admin_request(request(http::verb::post, "/-/reload"), backend).result() ==
        http::status::ok);
  HttpRequest same = request(http::verb::post, "/-/reload");
  same.set(http::field::origin, "http://127.0.0.1:9871");
  same.set(http::field::content_type, "application/json");
  CHECK(handle_admin_request(same, backend).result() == http::status::ok);
  CHECK(backend.triggers.size() == 2);
}

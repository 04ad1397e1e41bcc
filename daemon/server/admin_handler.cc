#include "admin_handler.h"

#include <boost/json/serialize.hpp>

#include "gzip.h"

namespace replywatch::server {
namespace {

namespace http = boost::beast::http;

HttpResponse text_response(const HttpRequest& request, http::status status, std::string body,
                           std::string_view content_type = "text/plain; charset=utf-8") {
  HttpResponse response{status, request.version()};
  response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

HttpResponse json_response(const HttpRequest& request, http::status status,
                           const boost::json::value& body) {
  return text_response(request, status, boost::json::serialize(body) + "\n", "application/json");
}

constexpr const char* kIndex =
    "replywatch admin\n"
    "\n"
    "GET  /metrics        Prometheus metrics\n"
    "GET  /-/healthy      200 while the process runs\n"
    "GET  /-/ready        200 once rules are loaded and state is restored\n"
    "POST /-/reload       reload the rule files (all or nothing)\n"
    "GET  /v1/at-risk     open rounds at risk or due soonest, per platform, shop and SLA\n"
    "                     ?platform=P&shop=S&limit=N&at_risk_only=true\n";

}  // namespace

HttpResponse handle_admin_request(const HttpRequest& request, AdminBackend& backend) {
  const std::string_view target = request.target();
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  const bool get = request.method() == http::verb::get;
  const bool post = request.method() == http::verb::post || request.method() == http::verb::put;

  auto method_not_allowed = [&](const char* allow) {
    backend.count_refused_request("method_not_allowed", request.method_string());
    HttpResponse response =
        text_response(request, http::status::method_not_allowed, "method not allowed\n");
    response.set(http::field::allow, allow);
    return response;
  };

  if (path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    HttpResponse response = text_response(request, http::status::ok, backend.metrics_text(),
                                          "text/plain; version=0.0.4; charset=utf-8");
    response.set(http::field::vary, "Accept-Encoding");
    if (accepts_gzip(request[http::field::accept_encoding])) {
      if (auto compressed = gzip_compress(response.body())) {
        response.body() = std::move(*compressed);
        response.set(http::field::content_encoding, "gzip");
      }
    }
    return response;
  }
  if (path == "/-/healthy") {
    if (!get) return method_not_allowed("GET");
    return text_response(request, http::status::ok, "replywatch is healthy.\n");
  }
  if (path == "/-/ready") {
    if (!get) return method_not_allowed("GET");
    if (!backend.ready()) {
      return text_response(request, http::status::service_unavailable,
                           "replywatch is restoring its state.\n");
    }
    return text_response(request, http::status::ok, "replywatch is ready.\n");
  }
  if (path == "/-/reload") {
    if (!post) return method_not_allowed("POST, PUT");
    const ReloadOutcome outcome = backend.reload("POST /-/reload");
    boost::json::array errors;
    for (const std::string& error : outcome.errors) errors.emplace_back(error);
    if (!outcome.ok) {
      return json_response(request, http::status::unprocessable_entity,
                           boost::json::object{{"status", "error"}, {"errors", std::move(errors)}});
    }
    return json_response(request, http::status::ok,
                         boost::json::object{{"status", "success"},
                                             {"platforms", outcome.platforms},
                                             {"state", "rebuilding from the journal"}});
  }
  if (path == "/v1/at-risk") {
    if (!get) return method_not_allowed("GET");
    AtRiskQuery parsed;
    if (auto problem = parse_at_risk_query(query, parsed)) {
      backend.count_refused_request("bad_query", *problem);
      return json_response(request, http::status::bad_request,
                           boost::json::object{{"error", *problem}});
    }
    auto report = backend.at_risk(parsed);
    if (!report) {
      return json_response(request, http::status::service_unavailable,
                           boost::json::object{{"error", "restoring state"}});
    }
    return json_response(request, http::status::ok, *report);
  }
  if (path == "/") {
    if (!get) return method_not_allowed("GET");
    return text_response(request, http::status::ok, kIndex);
  }
  backend.count_refused_request("not_found", path);
  return text_response(request, http::status::not_found, "not found\n");
}

}  // namespace replywatch::server

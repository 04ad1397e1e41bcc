#include "admin_handler.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "console_assets.h"
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
    "GET  /                the console (in a browser; this text otherwise)\n"
    "GET  /v1/console     the console's queue, shops and filters as JSON\n"
    "                     ?platform=P&shop=S&sla=N\n"
    "GET  /v1/console/events  the same, live (Server-Sent Events)\n"
    "GET  /metrics        Prometheus metrics\n"
    "GET  /-/healthy      200 while the process runs\n"
    "GET  /-/ready        200 once rules are loaded and state is restored\n"
    "POST /-/reload       reload the rule files (all or nothing)\n"
    "GET  /v1/at-risk     open rounds at risk or due soonest, per platform, shop and SLA\n"
    "                     ?platform=P&shop=S&limit=N&at_risk_only=true\n";

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Content types a browser may send cross-origin without asking first (a "simple" request).
bool cors_simple_content_type(std::string_view content_type) {
  const std::string type = lowercase(content_type.substr(0, content_type.find(';')));
  return type.starts_with("text/plain") || type.starts_with("application/x-www-form-urlencoded") ||
         type.starts_with("multipart/form-data");
}

// The host of an Origin (scheme://host[:port]); nothing for "null" or anything unparsable.
std::optional<std::string_view> origin_host(std::string_view origin) {
  const std::size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  std::string_view rest = origin.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return std::nullopt;
  return rest;
}

HttpResponse answer_admin_request(const HttpRequest& request, AdminBackend& backend);

bool accepts_html(std::string_view accept) {
  return lowercase(accept).find("text/html") != std::string::npos;
}

HttpResponse asset_response(const HttpRequest& request, const ConsoleAsset& asset) {
  HttpResponse response =
      text_response(request, http::status::ok, std::string(asset.body), asset.content_type);
  // Served from the binary: a new build is a new daemon, so revalidate on every load.
  response.set(http::field::cache_control, "no-cache");
  return response;
}

}  // namespace

void add_admin_security_headers(HttpResponse& response) {
  response.set("Content-Security-Policy",
               "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
}

void AdminBackend::console_stream(const ConsoleFilter& /*filter*/, const Respond& respond) {
  HttpResponse response{http::status::not_found, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = "no console stream here\n";
  respond(std::move(response));
}

bool admin_host_allowed(std::string_view host, const AdminSettings& settings) {
  // Strip the port: "[::1]:9871" -> "::1", "localhost:9871" -> "localhost".
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  const std::string name = lowercase(host);
  if (name == "localhost" || name == "::1" || name.starts_with("127.")) return true;
  return std::any_of(settings.allowed_hosts.begin(), settings.allowed_hosts.end(),
                     [&](const std::string& allowed) { return lowercase(allowed) == name; });
}

void handle_admin_request(HttpRequest request, AdminBackend& backend, const AdminSettings& settings,
                          Respond plain_respond) {
  // Every answer, whole or streamed, carries the security headers.
  const Respond respond(
      [plain_respond](HttpResponse response) {
        add_admin_security_headers(response);
        plain_respond(std::move(response));
      },
      [plain_respond](HttpResponse header) {
        add_admin_security_headers(header);
        return plain_respond.stream(std::move(header));
      });
  const bool state_changing =
      request.method() != http::verb::get && request.method() != http::verb::head;
  auto forbid = [&](RefusalReason reason, std::string_view detail, http::status status,
                    std::string message) {
    backend.count_refused_request(reason, detail);
    respond(text_response(request, status, std::move(message)));
  };
  const std::string_view host = request[http::field::host];
  if (!host.empty() && !admin_host_allowed(host, settings)) {
    return forbid(RefusalReason::kForbiddenHost, host, http::status::forbidden,
                  "Host is not a name of this admin listener (see admin_hosts)\n");
  }
  if (state_changing) {
    const std::string_view origin = request[http::field::origin];
    if (!origin.empty()) {
      const auto origin_name = origin_host(origin);
      if (!origin_name || !admin_host_allowed(*origin_name, settings)) {
        return forbid(RefusalReason::kForbiddenOrigin, origin, http::status::forbidden,
                      "cross-origin requests may not change state\n");
      }
    }
    const std::string_view content_type = request[http::field::content_type];
    if (cors_simple_content_type(content_type)) {
      return forbid(RefusalReason::kUnsupportedMediaType, content_type,
                    http::status::unsupported_media_type,
                    "a state-changing request may not be a browser form; send no body\n");
    }
  }
  if (request.target().starts_with("/-/reload")) {
    const std::string_view path = request.target().substr(0, request.target().find('?'));
    if (path == "/-/reload" &&
        (request.method() == http::verb::post || request.method() == http::verb::put)) {
      const unsigned version = request.version();
      backend.reload("POST /-/reload", [respond, version](ReloadOutcome outcome) {
        HttpRequest shape{http::verb::post, "/-/reload", version};
        boost::json::array errors;
        for (const std::string& error : outcome.errors) errors.emplace_back(error);
        if (!outcome.ok) {
          return respond(json_response(
              shape, http::status::unprocessable_entity,
              boost::json::object{{"status", "error"}, {"errors", std::move(errors)}}));
        }
        respond(json_response(shape, http::status::ok,
                              boost::json::object{{"status", "success"},
                                                  {"platforms", outcome.platforms},
                                                  {"state", outcome.state}}));
      });
      return;
    }
  }
  {
    const std::string_view target = request.target();
    const std::size_t question = target.find('?');
    if (target.substr(0, question) == "/v1/console/events" && request.method() == http::verb::get) {
      ConsoleFilter filter;
      const std::string_view query =
          question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
      if (auto problem = parse_console_filter(query, filter)) {
        backend.count_refused_request(RefusalReason::kBadQuery, *problem);
        return respond(json_response(request, http::status::bad_request,
                                     boost::json::object{{"error", *problem}}));
      }
      return backend.console_stream(filter, respond);
    }
  }
  if (request.method() == http::verb::get &&
      request.target().substr(0, request.target().find('?')) == "/metrics") {
    const unsigned version = request.version();
    backend.metrics(
        accepts_gzip(request[http::field::accept_encoding]), [respond, version](MetricsBody body) {
          if (body.failed) {
            HttpResponse failed{http::status::internal_server_error, version};
            failed.set(http::field::content_type, "text/plain; charset=utf-8");
            failed.body() = "internal error\n";
            return respond(std::move(failed));
          }
          HttpResponse response{http::status::ok, version};
          response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
          response.set(http::field::vary, "Accept-Encoding");
          if (body.gzipped) response.set(http::field::content_encoding, "gzip");
          response.body() = std::move(body.text);
          respond(std::move(response));
        });
    return;
  }
  respond(answer_admin_request(request, backend));
}

void AdminBackend::metrics(bool gzip, std::function<void(MetricsBody)> done) {
  MetricsBody body{metrics_text(), false};
  if (gzip) {
    if (auto compressed = gzip_compress(body.text)) {
      body.text = std::move(*compressed);
      body.gzipped = true;
    }
  }
  done(std::move(body));
}

HttpResponse handle_admin_request(const HttpRequest& request, AdminBackend& backend,
                                  const AdminSettings& settings) {
  std::optional<HttpResponse> answer;
  handle_admin_request(HttpRequest(request), backend, settings,
                       [&answer](HttpResponse response) { answer = std::move(response); });
  if (!answer) throw std::logic_error("the admin backend did not answer a reload inline");
  return std::move(*answer);
}

namespace {

HttpResponse answer_admin_request(const HttpRequest& request, AdminBackend& backend) {
  const std::string_view target = request.target();
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  const bool get = request.method() == http::verb::get;
  const bool post = request.method() == http::verb::post || request.method() == http::verb::put;

  auto method_not_allowed = [&](const char* allow) {
    backend.count_refused_request(RefusalReason::kMethodNotAllowed, request.method_string());
    HttpResponse response =
        text_response(request, http::status::method_not_allowed, "method not allowed\n");
    response.set(http::field::allow, allow);
    return response;
  };

  if (path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    throw std::logic_error("GET /metrics is answered by handle_admin_request");
  }
  if (path == "/-/healthy") {
    if (!get) return method_not_allowed("GET");
    return text_response(request, http::status::ok, "replywatch is healthy.\n");
  }
  if (path == "/-/ready") {
    if (!get) return method_not_allowed("GET");
    if (!backend.ready()) {
      const std::string why = backend.readiness();
      return text_response(request, http::status::service_unavailable,
                           why.empty() ? "replywatch is restoring its state.\n" : why);
    }
    return text_response(request, http::status::ok, "replywatch is ready.\n" + backend.readiness());
  }
  if (path == "/-/reload") {
    if (!post) return method_not_allowed("POST, PUT");
    throw std::logic_error("POST /-/reload is answered by handle_admin_request");
  }
  if (path == "/v1/at-risk") {
    if (!get) return method_not_allowed("GET");
    AtRiskQuery parsed;
    if (auto problem = parse_at_risk_query(query, parsed)) {
      backend.count_refused_request(RefusalReason::kBadQuery, *problem);
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
    if (accepts_html(request[http::field::accept])) {
      HttpResponse page = asset_response(request, *find_console_asset("/console/index.html"));
      page.set(http::field::vary, "Accept");
      return page;
    }
    HttpResponse index = text_response(request, http::status::ok, kIndex);
    index.set(http::field::vary, "Accept");
    return index;
  }
  if (path.starts_with("/console/")) {
    if (!get) return method_not_allowed("GET");
    if (const ConsoleAsset* asset = find_console_asset(path)) {
      return asset_response(request, *asset);
    }
  }
  if (path == "/v1/console") {
    if (!get) return method_not_allowed("GET");
    ConsoleFilter filter;
    if (auto problem = parse_console_filter(query, filter)) {
      backend.count_refused_request(RefusalReason::kBadQuery, *problem);
      return json_response(request, http::status::bad_request,
                           boost::json::object{{"error", *problem}});
    }
    auto console = backend.console(filter);
    if (!console) {
      return json_response(request, http::status::service_unavailable,
                           boost::json::object{{"error", "restoring state"}});
    }
    return json_response(request, http::status::ok, *console);
  }
  if (path == "/v1/console/events") return method_not_allowed("GET");
  backend.count_refused_request(RefusalReason::kNotFound, path);
  return text_response(request, http::status::not_found, "not found\n");
}

}  // namespace

}  // namespace replywatch::server

#include "ingest_handler.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <variant>

#include "signature.h"

namespace replywatch::server {
namespace {

namespace http = boost::beast::http;

enum class BodyFormat { kJson, kNdjson };

HttpResponse json_response(const HttpRequest& request, http::status status,
                           const boost::json::value& body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::content_type, "application/json");
  response.body() = boost::json::serialize(body);
  response.body().push_back('\n');
  return response;
}

HttpResponse error_response(const HttpRequest& request, http::status status,
                            std::string_view message) {
  return json_response(request, status, boost::json::object{{"error", message}});
}

std::optional<BodyFormat> format_of(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  std::string type(content_type.substr(0, semicolon));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "application/json") return BodyFormat::kJson;
  if (type == "application/x-ndjson" || type == "application/ndjson") return BodyFormat::kNdjson;
  return std::nullopt;
}

// Also used on the whole body, where a newline is blank too: a body of blank NDJSON lines is
// as empty as an empty one.
bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

HttpResponse handle_ingest_request(const HttpRequest& request, const IngestSettings& settings,
                                   IngestBackend& backend) {
  std::string_view target = request.target();
  target = target.substr(0, target.find('?'));
  if (target != "/v1/events") {
    backend.count_refused_request("not_found", target);
    return error_response(request, http::status::not_found,
                          "no such path; events go to "
                          "POST /v1/events");
  }
  if (request.method() != http::verb::post) {
    backend.count_refused_request("method_not_allowed", request.method_string());
    HttpResponse response = error_response(request, http::status::method_not_allowed, "use POST");
    response.set(http::field::allow, "POST");
    return response;
  }
  if (settings.secret) {
    const SignatureCheck check =
        verify_request(*settings.secret, request["X-Replywatch-Timestamp"],
                       request["X-Replywatch-Signature"], request.body(), backend.now());
    if (check != SignatureCheck::kValid) {
      backend.count_refused_request("bad_signature", signature_check_name(check));
      return error_response(request, http::status::unauthorized, signature_check_name(check));
    }
  }
  const auto format = format_of(request[http::field::content_type]);
  if (!format) {
    backend.count_refused_request("unsupported_media_type", request[http::field::content_type]);
    return error_response(request, http::status::unsupported_media_type,
                          "Content-Type must be application/json or application/x-ndjson");
  }
  if (!backend.ready()) {
    backend.count_refused_request("not_ready", "restoring state");
    HttpResponse response = error_response(request, http::status::service_unavailable,
                                           "restoring state from the journal; retry shortly");
    response.set(http::field::retry_after, "1");
    return response;
  }
  if (blank(request.body())) {
    backend.count_refused_request("unreadable_body", "empty body");
    return error_response(request, http::status::bad_request, "empty body");
  }

  // Decoded in order; the index of each rejection is its place among the body's events.
  std::vector<std::variant<Event, Rejection>> decoded;
  auto known = [&](std::string_view platform) { return backend.platform_known(platform); };
  if (*format == BodyFormat::kJson) {
    boost::system::error_code error;
    const boost::json::value body = boost::json::parse(request.body(), error);
    if (error) {
      backend.count_refused_request("unreadable_body", "not JSON");
      return error_response(request, http::status::bad_request,
                            "body is not valid JSON: " + error.message());
    }
    if (const auto* array = body.if_array()) {
      decoded.reserve(array->size());
      for (const auto& item : *array) decoded.push_back(decode_event(item, known));
    } else if (body.is_object()) {
      decoded.push_back(decode_event(body, known));
    } else {
      backend.count_refused_request("unreadable_body", "not an object or array");
      return error_response(request, http::status::bad_request,
                            "body must be one event object or an array of them");
    }
  } else {
    std::string_view rest = request.body();
    while (!rest.empty()) {
      const std::size_t newline = rest.find('\n');
      const std::string_view line = rest.substr(0, newline);
      rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
      if (!blank(line)) decoded.push_back(decode_event_text(line, known));
    }
  }

  const Instant latest_allowed = backend.now() + settings.max_future_skew;
  std::vector<Event> events;
  events.reserve(decoded.size());
  boost::json::array rejected;
  for (std::size_t index = 0; index < decoded.size(); ++index) {
    std::optional<Rejection> rejection;
    if (auto* event = std::get_if<Event>(&decoded[index])) {
      if (event->ts > latest_allowed) {
        rejection = Rejection{RejectReason::kTooFarInFuture, "ts"};
      } else {
        events.push_back(std::move(*event));
      }
    } else {
      rejection = std::get<Rejection>(decoded[index]);
    }
    if (rejection) {
      backend.count_rejected_event(rejection->reason);
      boost::json::object item{{"index", index}, {"reason", reject_reason_name(rejection->reason)}};
      if (!rejection->field.empty()) item["field"] = rejection->field;
      rejected.push_back(std::move(item));
    }
  }

  IngestCommit commit;
  if (!events.empty()) {
    commit = backend.commit(events);
    if (!commit.durable) {
      return error_response(request, http::status::service_unavailable,
                            "events could not be made durable; nothing was taken, retry");
    }
  }
  const http::status status =
      rejected.empty() ? http::status::ok : http::status::unprocessable_entity;
  return json_response(request, status,
                       boost::json::object{{"accepted", commit.accepted},
                                           {"duplicates", commit.duplicates},
                                           {"rejected", std::move(rejected)}});
}

}  // namespace replywatch::server

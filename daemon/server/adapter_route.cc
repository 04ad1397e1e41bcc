#include "adapter_route.h"

#include <memory>

namespace replywatch::server {
namespace {

namespace http = boost::beast::http;

std::string_view adapter_name(const HttpRequest& request) {
  return path_of(request).substr(kAdapterPathPrefix.size());
}

// ?dry_run=true (or 1): nothing when the query does not set it, an error text when it is not a
// boolean. Other parameters are ignored.
std::variant<bool, std::string> dry_run_of(const HttpRequest& request) {
  const std::string_view target = request.target();
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return false;
  std::string_view query = target.substr(question + 1);
  bool dry_run = false;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) != "dry_run") continue;
    const std::string_view value =
        equals == std::string_view::npos ? std::string_view("true") : pair.substr(equals + 1);
    if (value == "true" || value == "1") {
      dry_run = true;
    } else if (value == "false" || value == "0") {
      dry_run = false;
    } else {
      return std::string("dry_run must be true or false");
    }
  }
  return dry_run;
}

adapters::HeaderLookup header_lookup(const HttpRequest& request) {
  return [&request](std::string_view name) -> std::optional<std::string_view> {
    const auto found = request.find(name);
    if (found == request.end()) return std::nullopt;
    return found->value();
  };
}

AdapterOutcome outcome_of(http::status status, bool dry_run) {
  switch (status) {
    case http::status::ok:
      return dry_run ? AdapterOutcome::kDryRun : AdapterOutcome::kOk;
    case http::status::unprocessable_entity:
      return dry_run ? AdapterOutcome::kDryRun : AdapterOutcome::kRejected;
    case http::status::service_unavailable:
      return AdapterOutcome::kUnavailable;
    case http::status::internal_server_error:
      return AdapterOutcome::kError;
    default:
      return AdapterOutcome::kRefused;
  }
}

// One adapter request from its mapped events to its answer, tried again while the daemon
// answers 503 for something that passes (see kAdapterAttempts).
class AdapterAttempts : public std::enable_shared_from_this<AdapterAttempts> {
 public:
  AdapterAttempts(std::string adapter, unsigned version, boost::json::array events, bool dry_run,
                  const IngestSettings& settings, IngestBackend& backend, Respond respond)
      : adapter_(std::move(adapter)),
        version_(version),
        events_(std::move(events)),
        dry_run_(dry_run),
        settings_(settings),
        backend_(backend),
        respond_(std::move(respond)) {}

  void attempt() {
    ++attempts_;
    if (!backend_.ready()) {
      if (retry()) return;
      backend_.count_refused_request(RefusalReason::kNotReady, "restoring state");
      HttpResponse response =
          json_response(version_, http::status::service_unavailable,
                        {{"error", "restoring state from the journal; retry shortly"}});
      response.set(http::field::retry_after, "1");
      return finish(std::move(response));
    }
    ingest_mapped_events(
        version_, events_, dry_run_, settings_, backend_,
        [self = shared_from_this()](HttpResponse response) {
          if (response.result() == http::status::service_unavailable && self->retry()) {
            return;
          }
          self->finish(std::move(response));
        });
  }

 private:
  bool retry() {
    if (attempts_ >= kAdapterAttempts) return false;
    backend_.run_after(kAdapterRetryDelay, [self = shared_from_this()] { self->attempt(); });
    return true;
  }

  void finish(HttpResponse response) {
    backend_.count_adapter_request(adapter_, outcome_of(response.result(), dry_run_));
    respond_(std::move(response));
  }

  std::string adapter_;
  unsigned version_;
  boost::json::array events_;  // copied into each attempt: a help desk's body holds a few
  bool dry_run_;
  const IngestSettings& settings_;
  IngestBackend& backend_;
  Respond respond_;
  int attempts_ = 0;
};

}  // namespace

bool is_adapter_path(std::string_view path) { return path.starts_with(kAdapterPathPrefix); }

std::optional<HttpResponse> check_adapter_header(const HttpRequest& header,
                                                 const IngestSettings& settings,
                                                 IngestBackend& backend) {
  const std::string_view name = adapter_name(header);
  const adapters::ConfiguredAdapter* configured =
      settings.adapters ? settings.adapters->find(name) : nullptr;
  if (configured == nullptr) {
    backend.count_refused_request(RefusalReason::kNotFound, path_of(header));
    return json_response(header.version(), http::status::not_found,
                         {{"error", "no adapter of this name is configured"}});
  }
  if (header.method() != http::verb::post) return std::nullopt;  // answered with the body
  const adapters::AdapterRequest request{header_lookup(header), {}, backend.now()};
  if (auto refusal = configured->adapter->check_headers(request)) {
    backend.count_refused_request(RefusalReason::kBadSignature, refusal->reason);
    backend.count_adapter_request(configured->name, AdapterOutcome::kUnauthorized);
    return json_response(header.version(), http::status::unauthorized,
                         {{"error", refusal->reason}});
  }
  return std::nullopt;
}

void handle_adapter_request(HttpRequest request, const IngestSettings& settings,
                            IngestBackend& backend, Respond respond) {
  const unsigned version = request.version();
  const std::string_view name = adapter_name(request);
  const adapters::ConfiguredAdapter* configured =
      settings.adapters ? settings.adapters->find(name) : nullptr;
  if (configured == nullptr) {
    backend.count_refused_request(RefusalReason::kNotFound, path_of(request));
    return respond(json_response(version, http::status::not_found,
                                 {{"error", "no adapter of this name is configured"}}));
  }
  auto refuse = [&](http::status status, RefusalReason reason, AdapterOutcome outcome,
                    std::string_view detail, std::string_view message) {
    backend.count_refused_request(reason, detail);
    backend.count_adapter_request(configured->name, outcome);
    HttpResponse response = json_response(version, status, {{"error", message}});
    if (reason == RefusalReason::kMethodNotAllowed) response.set(http::field::allow, "POST");
    respond(std::move(response));
  };
  if (request.method() != http::verb::post) {
    return refuse(http::status::method_not_allowed, RefusalReason::kMethodNotAllowed,
                  AdapterOutcome::kRefused, request.method_string(), "use POST");
  }
  const auto dry_run = dry_run_of(request);
  if (const auto* problem = std::get_if<std::string>(&dry_run)) {
    return refuse(http::status::bad_request, RefusalReason::kBadQuery, AdapterOutcome::kRefused,
                  *problem, *problem);
  }
  const adapters::AdapterRequest adapter_request{header_lookup(request), request.body(),
                                                 backend.now()};
  const adapters::Adapter& adapter = *configured->adapter;
  if (auto refusal = adapter.authenticate(adapter_request)) {
    return refuse(http::status::unauthorized, RefusalReason::kBadSignature,
                  AdapterOutcome::kUnauthorized, refusal->reason, refusal->reason);
  }
  auto mapped = adapter.map(adapter_request);
  if (auto* refusal = std::get_if<adapters::AdapterRefusal>(&mapped)) {
    if (refusal->kind == adapters::AdapterRefusalKind::kUnauthorized) {
      return refuse(http::status::unauthorized, RefusalReason::kBadSignature,
                    AdapterOutcome::kUnauthorized, refusal->reason, refusal->reason);
    }
    // Not a refusal of the listener's (the request was well formed HTTP): counted per adapter.
    backend.count_adapter_request(configured->name, AdapterOutcome::kUnprocessable);
    return respond(json_response(version, http::status::unprocessable_entity,
                                 {{"error", refusal->reason}, {"pointer", refusal->pointer}}));
  }
  auto& events = std::get<adapters::MappedEvents>(mapped);
  if (events.size() > settings.max_events_per_request) {
    return refuse(http::status::payload_too_large, RefusalReason::kTooManyEvents,
                  AdapterOutcome::kRefused, "over the per-request limit",
                  "the body maps to more than " + std::to_string(settings.max_events_per_request) +
                      " events");
  }
  auto attempts = std::make_shared<AdapterAttempts>(configured->name, version, std::move(events),
                                                    std::get<bool>(dry_run), settings, backend,
                                                    std::move(respond));
  attempts->attempt();
}

}  // namespace replywatch::server

#include "ingest_handler.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <variant>

#include "adapter_route.h"
#include "signature.h"

namespace replywatch::server {
namespace {

namespace http = boost::beast::http;

enum class BodyFormat { kJson, kNdjson };

HttpResponse error_response(unsigned version, http::status status, std::string_view message) {
  return json_response(version, status, boost::json::object{{"error", message}});
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

bool starts_object(std::string_view body) {
  const std::size_t first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '{';
}

// Events in a body, counted without decoding it, stopping once past `limit`: non-blank lines
// of NDJSON, elements of a top-level JSON array (1 for anything else).
std::size_t count_events(std::string_view body, BodyFormat format, std::size_t limit) {
  std::size_t count = 0;
  if (format == BodyFormat::kNdjson) {
    while (!body.empty() && count <= limit) {
      const std::size_t newline = body.find('\n');
      if (!blank(body.substr(0, newline))) ++count;
      body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
    }
    return count;
  }
  const std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || body[first] != '[') return 1;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool any = false;
  for (std::size_t i = first; i < body.size() && count <= limit; ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      any = true;
    } else if (c == '[' || c == '{') {
      if (depth == 1) any = true;
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) break;
    } else if (c == ',' && depth == 1) {
      ++count;
    } else if (depth == 1 && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      any = true;
    }
  }
  return any ? count + 1 : count;
}

struct IndexedRejection {
  std::size_t index;
  Rejection rejection;
};

// One request being worked through, a slice per turn of the event loop.
class IngestJob : public std::enable_shared_from_this<IngestJob> {
 public:
  IngestJob(HttpRequest request, BodyFormat format, const IngestSettings& settings,
            IngestBackend& backend, Respond respond)
      : request_(std::move(request)),
        format_(format),
        settings_(settings),
        backend_(backend),
        respond_(std::move(respond)),
        rest_(request_.body()) {}

  // Events an adapter mapped: decoded as a JSON array body's elements.
  IngestJob(unsigned version, boost::json::array events, bool dry_run,
            const IngestSettings& settings, IngestBackend& backend, Respond respond)
      : format_(BodyFormat::kJson),
        settings_(settings),
        backend_(backend),
        respond_(std::move(respond)),
        parsed_(std::move(events)),
        dry_run_(dry_run) {
    request_.version(version);
    items_ = &parsed_.as_array();
    expect(items_->size());
  }

  void start_mapped() {
    if (dry_run_) mapped_ = *items_;
    decode_slice();
  }

  // Room for the events the body holds (counted beforehand), so that none is moved to grow.
  void expect(std::size_t events) {
    expected_ = events;
    events_.reserve(events);
    event_indices_.reserve(events);
  }

  void start() {
    if (format_ == BodyFormat::kJson && starts_object(request_.body())) {
      // One event (a webhook's usual body): read straight into its fields, as an NDJSON line
      // is. Only bad JSON, which the body's answer reports differently, takes the long way.
      auto decoded = decode_event_text(request_.body(), [this](std::string_view platform) {
        return backend_.platform_known(platform);
      });
      const auto* rejection = std::get_if<Rejection>(&decoded);
      if (rejection == nullptr || rejection->reason != RejectReason::kBadJson) {
        take(std::move(decoded));
        return finish();
      }
    }
    if (format_ == BodyFormat::kJson) {
      boost::system::error_code error;
      parsed_ = boost::json::parse(request_.body(), error);
      if (error) {
        return refuse(http::status::bad_request, RefusalReason::kUnreadableBody, "not JSON",
                      "body is not valid JSON: " + error.message());
      }
      if (const auto* array = parsed_.if_array()) {
        items_ = array;
      } else if (!parsed_.is_object()) {
        return refuse(http::status::bad_request, RefusalReason::kUnreadableBody,
                      "not an object or array",
                      "body must be one event object or an array of them");
      }
    }
    if (format_ == BodyFormat::kNdjson && rest_.size() > settings_.split_decode_bytes) {
      split_decode();
    }
    decode_slice();
  }

 private:
  // The body's second half (from a line start) goes to another thread; this one decodes the
  // first half meanwhile, and the two are joined in index order (the second half's indices
  // follow the first's).
  void split_decode() {
    std::size_t middle = rest_.find('\n', rest_.size() / 2);
    if (middle == std::string_view::npos) return;
    ++middle;
    far_half_ = std::make_unique<FarHalf>();
    far_half_->text = rest_.substr(middle);
    // Events in the far half, estimated by its share of the bytes.
    far_half_->events.reserve(far_half_->text.size() * expected_ / rest_.size() + 16);
    far_half_->indices.reserve(far_half_->events.capacity());
    rest_ = rest_.substr(0, middle);
    backend_.run_off_loop(
        [half = far_half_.get(), known = backend_.platform_checker()] { half->decode(known); },
        [self = shared_from_this()] {
          self->far_half_->done = true;
          if (self->near_half_done_) self->run_guarded(&IngestJob::join_halves);
        });
  }

  void join_halves() {
    FarHalf& half = *far_half_;
    if (!half.failure.empty()) throw std::runtime_error(half.failure);
    const std::size_t base = next_index_;
    events_.reserve(events_.size() + half.events.size());
    event_indices_.reserve(event_indices_.size() + half.events.size());
    for (std::size_t i = 0; i < half.events.size(); ++i) {
      events_.push_back(std::move(half.events[i]));
      event_indices_.push_back(base + half.indices[i]);
    }
    for (const auto& [index, rejection] : half.rejections) {
      note(decode_rejections_, base + index, rejection);
    }
    next_index_ = base + half.lines;
    far_half_.reset();
    finish();
  }

  void decode_slice() {
    auto known = [this](std::string_view platform) { return backend_.platform_known(platform); };
    for (std::size_t n = 0; n < settings_.decode_slice; ++n) {
      if (format_ == BodyFormat::kNdjson) {
        if (rest_.empty()) {
          if (!far_half_) return finish();
          near_half_done_ = true;
          if (far_half_->done) join_halves();
          return;
        }
        const std::size_t newline = rest_.find('\n');
        const std::string_view line = rest_.substr(0, newline);
        rest_ = newline == std::string_view::npos ? std::string_view{} : rest_.substr(newline + 1);
        if (blank(line)) continue;
        take(decode_event_text(line, known));
      } else if (items_ != nullptr) {
        if (next_item_ == items_->size()) return finish();
        take(decode_event((*items_)[next_item_++], known));
      } else {
        take(decode_event(parsed_, known));
        return finish();
      }
    }
    backend_.defer([self = shared_from_this()] { self->run_guarded(&IngestJob::decode_slice); });
  }

  void run_guarded(void (IngestJob::*step)()) {
    try {
      (this->*step)();
    } catch (const std::exception& failure) {
      backend_.count_refused_request(RefusalReason::kInternalError, failure.what());
      respond_(error_response(request_.version(), http::status::internal_server_error,
                              "internal error"));
    }
  }

  void take(std::variant<Event, Rejection> decoded) {
    const std::size_t index = next_index_++;
    if (auto* event = std::get_if<Event>(&decoded)) {
      events_.push_back(std::move(*event));
      event_indices_.push_back(index);
    } else {
      note(decode_rejections_, index, std::get<Rejection>(decoded));
    }
  }

  // Counts every rejection; keeps the first kListedRejections of each phase, in index order.
  void note(std::vector<IndexedRejection>& kept, std::size_t index, Rejection rejection) {
    ++rejected_total_;
    if (!dry_run_) backend_.count_rejected_event(rejection.reason);
    if (kept.size() < kListedRejections) kept.push_back({index, rejection});
  }

  // Time checks and the commit happen in one turn, against one reading of the clock.
  void finish() {
    const Instant now = backend_.now();
    const Instant latest_allowed = now + settings_.max_future_skew;
    const bool suspect = backend_.clock_suspect();
    std::vector<Event> events;
    std::vector<std::size_t> indices;
    std::vector<std::pair<std::size_t, Rejection>> late_rejections;
    for (std::size_t i = 0; i < events_.size(); ++i) {
      Event& event = events_[i];
      std::optional<Rejection> rejection;
      if (event.ts > latest_allowed) {
        rejection = Rejection{RejectReason::kTooFarInFuture, "ts"};
      } else if (settings_.max_event_age && event.ts < now - *settings_.max_event_age) {
        rejection = Rejection{RejectReason::kTooOld, "ts"};
      } else if (!backend_.platform_known(event.platform)) {
        rejection = Rejection{RejectReason::kUnknownPlatform, "platform"};  // reloaded meanwhile
      }
      if (rejection && suspect && rejection->reason != RejectReason::kUnknownPlatform) {
        // The event may be right and our clock wrong: nothing final until the clock is settled.
        backend_.count_refused_request(RefusalReason::kClockSuspect, "event time check");
        HttpResponse response = error_response(
            request_.version(), http::status::service_unavailable,
            "the server's clock has just changed and is being verified; nothing was taken, retry");
        response.set(http::field::retry_after, std::to_string(kClockSuspectRetrySeconds));
        return respond_(std::move(response));
      }
      if (rejection) late_rejections.emplace_back(event_indices_[i], *rejection);
    }
    if (late_rejections.empty()) {
      // The usual case: every event goes on, without moving one.
      events = std::move(events_);
      indices = std::move(event_indices_);
    } else {
      events.reserve(events_.size());
      std::size_t next_rejected = 0;
      for (std::size_t i = 0; i < events_.size(); ++i) {
        if (next_rejected < late_rejections.size() &&
            late_rejections[next_rejected].first == event_indices_[i]) {
          ++next_rejected;
          continue;
        }
        events.push_back(std::move(events_[i]));
        indices.push_back(event_indices_[i]);
      }
    }
    std::vector<IndexedRejection> checked;
    for (const auto& [index, rejection] : late_rejections) note(checked, index, rejection);

    if (dry_run_) {
      // What a real request would do now, without claiming: duplicates of accepted events are
      // told apart; repeats inside this body are not.
      IngestCommit would{true, 0, 0, {}};
      for (const Event& event : events) {
        ++(backend_.is_duplicate(event) ? would.duplicates : would.accepted);
      }
      return respond_(answer(would, checked));
    }
    if (events.empty()) return respond_(answer(IngestCommit{}, checked));
    backend_.commit(std::move(events), [self = shared_from_this(), indices = std::move(indices),
                                        checked = std::move(checked)](IngestCommit commit) mutable {
      try {
        self->committed(std::move(commit), indices, checked);
      } catch (const std::exception& failure) {
        self->backend_.count_refused_request(RefusalReason::kInternalError, failure.what());
        self->respond_(error_response(self->request_.version(), http::status::internal_server_error,
                                      "internal error"));
      }
    });
  }

  void committed(IngestCommit commit, const std::vector<std::size_t>& indices,
                 std::vector<IndexedRejection>& checked) {
    if (!commit.durable) {
      HttpResponse response =
          error_response(request_.version(), http::status::service_unavailable,
                         "events could not be made durable; nothing was taken, retry");
      response.set(http::field::retry_after, std::to_string(kNotDurableRetrySeconds));
      return respond_(std::move(response));
    }
    std::sort(commit.rejected.begin(), commit.rejected.end());
    for (const auto& [position, reason] : commit.rejected) {
      note(checked, indices.at(position), Rejection{reason, "shop"});
    }
    respond_(answer(commit, checked));
  }

  HttpResponse answer(const IngestCommit& commit, std::vector<IndexedRejection>& checked) {
    std::vector<IndexedRejection> listed = std::move(decode_rejections_);
    listed.insert(listed.end(), checked.begin(), checked.end());
    std::stable_sort(listed.begin(), listed.end(),
                     [](const auto& a, const auto& b) { return a.index < b.index; });
    if (listed.size() > kListedRejections) listed.resize(kListedRejections);
    if (listed.empty() && rejected_total_ == 0 && !dry_run_) {
      // The usual answer, written directly: the same bytes as the general case below.
      HttpResponse response{http::status::ok, request_.version()};
      response.set(http::field::content_type, "application/json");
      std::string& body = response.body();
      body.reserve(64);
      body += R"({"accepted":)";
      body += std::to_string(commit.accepted);
      body += R"(,"duplicates":)";
      body += std::to_string(commit.duplicates);
      body += R"(,"rejected":[]})";
      body.push_back('\n');
      return response;
    }
    boost::json::array rejected;
    for (const auto& [index, rejection] : listed) {
      boost::json::object item{{"index", index}, {"reason", reject_reason_name(rejection.reason)}};
      if (!rejection.field.empty()) item["field"] = rejection.field;
      rejected.push_back(std::move(item));
    }
    const http::status status =
        rejected_total_ == 0 ? http::status::ok : http::status::unprocessable_entity;
    boost::json::object body{{"accepted", commit.accepted},
                             {"duplicates", commit.duplicates},
                             {"rejected", std::move(rejected)}};
    // Only when the list was cut, so that the usual answer keeps the contract's exact shape.
    if (rejected_total_ > kListedRejections) body["rejected_total"] = rejected_total_;
    if (dry_run_) body["events"] = std::move(mapped_);
    return json_response(request_.version(), status, body);
  }

  void refuse(http::status status, RefusalReason reason, std::string_view detail,
              std::string_view message) {
    backend_.count_refused_request(reason, detail);
    respond_(error_response(request_.version(), status, message));
  }

  // Decoded off the event loop: touched by the loop only once `done`.
  struct FarHalf {
    std::string_view text;
    std::vector<Event> events;
    std::vector<std::size_t> indices;  // among the half's non-blank lines
    std::vector<IndexedRejection> rejections;
    std::size_t lines = 0;  // non-blank
    std::string failure;    // what went wrong, if decoding threw
    bool done = false;

    void decode(const PlatformKnown& known) {
      try {
        std::string_view rest = text;
        while (!rest.empty()) {
          const std::size_t newline = rest.find('\n');
          const std::string_view line = rest.substr(0, newline);
          rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
          if (blank(line)) continue;
          auto decoded = decode_event_text(line, known);
          if (auto* event = std::get_if<Event>(&decoded)) {
            events.push_back(std::move(*event));
            indices.push_back(lines);
          } else {
            rejections.push_back({lines, std::get<Rejection>(decoded)});
          }
          ++lines;
        }
      } catch (const std::exception& error) {
        failure = error.what();
      }
    }
  };

  HttpRequest request_;
  BodyFormat format_;
  const IngestSettings& settings_;
  IngestBackend& backend_;
  Respond respond_;
  std::string_view rest_;  // NDJSON not yet decoded
  boost::json::value parsed_;
  const boost::json::array* items_ = nullptr;
  std::size_t next_item_ = 0;
  std::size_t next_index_ = 0;
  std::vector<Event> events_;
  std::vector<std::size_t> event_indices_;  // each event's place among the body's events
  std::vector<IndexedRejection> decode_rejections_;
  std::uint64_t rejected_total_ = 0;
  std::unique_ptr<FarHalf> far_half_;
  bool near_half_done_ = false;
  std::size_t expected_ = 0;  // events counted in the body
  bool dry_run_ = false;
  boost::json::array mapped_;  // dry runs: the events as the adapter mapped them
};

}  // namespace

std::optional<HttpResponse> check_ingest_header(const HttpRequest& header,
                                                const IngestSettings& settings,
                                                IngestBackend& backend) {
  if (is_adapter_path(path_of(header))) return check_adapter_header(header, settings, backend);
  if (!settings.secret || path_of(header) != "/v1/events" || header.method() != http::verb::post) {
    return std::nullopt;
  }
  const adapters::SignatureHeaders names = adapters::kReplywatchSignatureHeaders;
  const adapters::SignatureCheck check = adapters::check_signature_headers(
      header[names.timestamp], header[names.signature], backend.now());
  if (check == adapters::SignatureCheck::kValid) return std::nullopt;
  const std::string text = adapters::signature_check_text(check, names);
  backend.count_refused_request(RefusalReason::kBadSignature, text);
  return error_response(header.version(), http::status::unauthorized, text);
}

void handle_ingest_request(HttpRequest request, const IngestSettings& settings,
                           IngestBackend& backend, Respond respond) {
  const unsigned version = request.version();
  auto refuse = [&](http::status status, RefusalReason reason, std::string_view detail,
                    std::string_view message) {
    backend.count_refused_request(reason, detail);
    HttpResponse response = error_response(version, status, message);
    if (reason == RefusalReason::kNotReady) response.set(http::field::retry_after, "1");
    if (reason == RefusalReason::kMethodNotAllowed) response.set(http::field::allow, "POST");
    respond(std::move(response));
  };
  const std::string_view target = path_of(request);
  if (is_adapter_path(target)) {
    return handle_adapter_request(std::move(request), settings, backend, std::move(respond));
  }
  if (target != "/v1/events") {
    return refuse(http::status::not_found, RefusalReason::kNotFound, target,
                  "no such path; events go to POST /v1/events");
  }
  if (request.method() != http::verb::post) {
    return refuse(http::status::method_not_allowed, RefusalReason::kMethodNotAllowed,
                  request.method_string(), "use POST");
  }
  if (settings.secret) {
    const adapters::SignatureHeaders names = adapters::kReplywatchSignatureHeaders;
    const adapters::SignatureCheck check =
        adapters::verify_request(*settings.secret, request[names.timestamp],
                                 request[names.signature], request.body(), backend.now());
    if (check != adapters::SignatureCheck::kValid) {
      const std::string text = adapters::signature_check_text(check, names);
      return refuse(http::status::unauthorized, RefusalReason::kBadSignature, text, text);
    }
  }
  const auto format = format_of(request[http::field::content_type]);
  if (!format) {
    return refuse(http::status::unsupported_media_type, RefusalReason::kUnsupportedMediaType,
                  request[http::field::content_type],
                  "Content-Type must be application/json or application/x-ndjson");
  }
  if (!backend.ready()) {
    return refuse(http::status::service_unavailable, RefusalReason::kNotReady, "restoring state",
                  "restoring state from the journal; retry shortly");
  }
  if (blank(request.body())) {
    return refuse(http::status::bad_request, RefusalReason::kUnreadableBody, "empty body",
                  "empty body");
  }
  const std::size_t expected =
      count_events(request.body(), *format, settings.max_events_per_request);
  if (expected > settings.max_events_per_request) {
    return refuse(http::status::payload_too_large, RefusalReason::kTooManyEvents,
                  "over the per-request limit",
                  "more than " + std::to_string(settings.max_events_per_request) +
                      " events in one request; send them in smaller batches");
  }
  auto job = std::make_shared<IngestJob>(std::move(request), *format, settings, backend,
                                         std::move(respond));
  job->expect(expected);
  job->start();
}

void ingest_mapped_events(unsigned version, boost::json::array events, bool dry_run,
                          const IngestSettings& settings, IngestBackend& backend, Respond respond) {
  auto job = std::make_shared<IngestJob>(version, std::move(events), dry_run, settings, backend,
                                         std::move(respond));
  job->start_mapped();
}

HttpResponse handle_ingest_request(const HttpRequest& request, const IngestSettings& settings,
                                   IngestBackend& backend) {
  std::optional<HttpResponse> answer;
  handle_ingest_request(HttpRequest(request), settings, backend,
                        [&answer](HttpResponse response) { answer = std::move(response); });
  if (!answer) throw std::logic_error("the ingest backend deferred a step the caller cannot run");
  return std::move(*answer);
}

HttpResponse json_response(unsigned version, http::status status, const boost::json::value& body) {
  HttpResponse response{status, version};
  response.set(http::field::content_type, "application/json");
  response.body() = boost::json::serialize(body);
  response.body().push_back('\n');
  return response;
}

std::string_view path_of(const HttpRequest& request) {
  const std::string_view target = request.target();
  return target.substr(0, target.find('?'));
}

}  // namespace replywatch::server

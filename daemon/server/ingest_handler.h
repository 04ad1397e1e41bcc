// POST /v1/events (docs/events.md): routing, signature, content type, decoding and the per-event
// answer. Knows nothing of sockets; what "durable" means is the backend's business.
//
// A request's work is bounded and cut into slices: at most `max_events_per_request` events, at
// most kListedRejections rejections listed in the answer (the rest only counted), and the body
// decoded `decode_slice` events at a time with the event loop free in between, so one large
// request cannot stall health checks, timers or signals.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapter_config.h"
#include "adapter_outcome.h"
#include "http_server.h"
#include "refusal_reason.h"
#include "replywatch/event.h"
#include "replywatch/event_codec.h"

namespace replywatch::server {

struct IngestCommit {
  bool durable = false;  // false: nothing was taken, answer 503
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  // Events refused at commit (a new shop beyond the cap): index into the committed vector.
  std::vector<std::pair<std::size_t, RejectReason>> rejected;
};

class IngestBackend {
 public:
  virtual ~IngestBackend() = default;
  // False while state is being restored: requests get 503.
  virtual bool ready() const = 0;
  // The daemon's event-time "now" (see EventClock).
  virtual Instant now() const = 0;
  // True while the wall clock disagrees with elapsed time and the disagreement has not yet
  // lasted long enough to be believed: time checks then answer 503 instead of rejecting.
  virtual bool clock_suspect() const { return false; }
  virtual bool platform_known(std::string_view platform) const = 0;
  // Makes `events` durable, then applies them; all or nothing. `done` runs once, on the event
  // loop, when they are durable or could not be made so (possibly before commit returns).
  virtual void commit(std::vector<Event> events, std::function<void(IngestCommit)> done) = 0;
  virtual void count_rejected_event(RejectReason reason) = 0;
  virtual void count_refused_request(RefusalReason reason, std::string_view detail) = 0;
  // Runs `step` on a later turn of the event loop. Inline by default (tests).
  virtual void defer(std::function<void()> step) { step(); }
  // Runs pure `work` on another thread where the backend has one, then `then` on the event
  // loop. Inline by default (tests).
  virtual void run_off_loop(std::function<void()> work, std::function<void()> then) {
    work();
    then();
  }
  // Whether an event was already accepted (dry runs: nothing is claimed). False by default.
  virtual bool is_duplicate(const Event& event) const {
    (void)event;
    return false;
  }
  // Runs `step` on the event loop after `delay` (adapter retries). Inline by default (tests).
  virtual void run_after(Duration delay, std::function<void()> step) {
    (void)delay;
    step();
  }
  virtual void count_adapter_request(std::string_view adapter, AdapterOutcome outcome) {
    (void)adapter;
    (void)outcome;
  }
  // platform_known, callable from any thread: it keeps the rules it answers from.
  virtual PlatformKnown platform_checker() const {
    return [this](std::string_view platform) { return platform_known(platform); };
  }
};

struct IngestSettings {
  std::optional<std::string> secret;  // none: unsigned requests are taken (loopback only)
  Duration max_future_skew = std::chrono::minutes(5);
  // Events older than now minus this are rejected as too_old; none: no age limit.
  std::optional<Duration> max_event_age;
  std::size_t max_events_per_request = 100'000;
  std::size_t decode_slice = 2'048;  // events decoded per turn of the event loop
  // NDJSON bodies larger than this are decoded in two halves at once: the second off the event
  // loop (IngestBackend::run_off_loop), the first on it, a slice per turn.
  std::size_t split_decode_bytes = 64 * 1024;
  // POST /v1/adapters/NAME (adapter_route.h); none configured: every such path is 404.
  std::shared_ptr<const adapters::AdapterSet> adapters;
};

// Rejections listed in an answer (the first ones by index); beyond it the answer also carries
// `rejected_total`, the count of all.
inline constexpr std::size_t kListedRejections = 100;
// Seconds a client is asked to wait while the daemon's clock is suspect.
inline constexpr int kClockSuspectRetrySeconds = 5;
// Seconds a client is asked to wait when its events could not be made durable.
inline constexpr int kNotDurableRetrySeconds = 1;

// Checks a request's header before its body is read: a webhook without a well-formed, fresh
// signature header is answered 401 at once, so unauthenticated bodies are never buffered.
std::optional<HttpResponse> check_ingest_header(const HttpRequest& header,
                                                const IngestSettings& settings,
                                                IngestBackend& backend);

// A JSON answer (Content-Type application/json, a final newline), as every ingest route gives.
HttpResponse json_response(unsigned version, boost::beast::http::status status,
                           const boost::json::value& body);

// The request target without its query.
std::string_view path_of(const HttpRequest& request);

// Answers through `respond`, once, possibly after deferred steps.
void handle_ingest_request(HttpRequest request, const IngestSettings& settings,
                           IngestBackend& backend, Respond respond);

// The rest of the POST /v1/events job for events a help-desk adapter mapped (adapter_route.cc):
// decoded and validated as the elements of a JSON array body, then deduplicated, made durable
// and answered the same way. With `dry_run` nothing is claimed, stored or counted, and the answer
// also holds the mapped events. `respond` gets the answer once.
void ingest_mapped_events(unsigned version, boost::json::array events, bool dry_run,
                          const IngestSettings& settings, IngestBackend& backend, Respond respond);

// The same with the answer returned; the backend must run deferred steps inline.
HttpResponse handle_ingest_request(const HttpRequest& request, const IngestSettings& settings,
                                   IngestBackend& backend);

}  // namespace replywatch::server

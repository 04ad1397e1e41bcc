// The admin listener: /metrics, /-/healthy, /-/ready, POST /-/reload and GET /v1/at-risk. Knows
// nothing of sockets.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "at_risk.h"
#include "console_snapshot.h"
#include "http_server.h"
#include "refusal_reason.h"

namespace replywatch::server {

struct ReloadOutcome {
  bool ok = false;
  std::vector<std::string> errors;  // FILE:LINE:COL: message, or why nothing was tried
  std::size_t platforms = 0;
  std::string state = "rebuilding from the journal";  // what happens next, for the answer
};

// A /metrics answer's body.
struct MetricsBody {
  std::string text;
  bool gzipped = false;
  bool failed = false;  // nothing could be written: answer 500
};

class AdminBackend {
 public:
  virtual ~AdminBackend() = default;
  virtual bool ready() const = 0;
  // What /-/ready adds to its answer (a consumer's partitions, ...); empty for nothing.
  virtual std::string readiness() const { return {}; }
  // Prometheus text format 0.0.4.
  virtual std::string metrics_text() = 0;
  // The same, gzip'd when `gzip` is asked and compression works, answered through `done` once,
  // on the event loop, possibly later: the daemon writes and compresses the text on another
  // thread. By default: metrics_text() and compression inline.
  virtual void metrics(bool gzip, std::function<void(MetricsBody)> done);
  // Validates every rule file (possibly off the event loop) and calls `done` once, on the event
  // loop; on success the new rules take effect once the state has been rebuilt under them from
  // the journal, while the old ones keep serving.
  virtual void reload(std::string_view trigger, std::function<void(ReloadOutcome)> done) = 0;
  // Nothing while not ready.
  virtual std::optional<boost::json::object> at_risk(const AtRiskQuery& query) = 0;
  virtual void count_refused_request(RefusalReason reason, std::string_view detail) = 0;
  // The console's queue, shops and filter choices as one object; nothing while not ready.
  virtual std::optional<boost::json::object> console(const ConsoleFilter& /*filter*/) {
    return std::nullopt;
  }
  // Serves GET /v1/console/events: opens a stream through `respond` (or answers it, e.g. 503 at
  // the stream cap).
  virtual void console_stream(const ConsoleFilter& filter, const Respond& respond);
};

// The headers every admin answer carries: the console's Content-Security-Policy (its own
// scripts and styles only, no inline code, nothing from elsewhere) and its companions.
void add_admin_security_headers(HttpResponse& response);

// Who may talk to the admin listener. A browser page can make requests to it (DNS rebinding,
// cross-origin form posts); such requests carry a Host or Origin naming the page's site.
struct AdminSettings {
  // Host names (no port) accepted in Host and Origin, besides localhost and loopback literals.
  std::vector<std::string> allowed_hosts;
};

// Whether `host` (a Host header value or an Origin's host, port optional) names the admin
// listener under `settings`.
bool admin_host_allowed(std::string_view host, const AdminSettings& settings);

void handle_admin_request(HttpRequest request, AdminBackend& backend, const AdminSettings& settings,
                          Respond respond);

// The same with the answer returned; the backend must answer reloads inline.
HttpResponse handle_admin_request(const HttpRequest& request, AdminBackend& backend,
                                  const AdminSettings& settings = {});

}  // namespace replywatch::server

// The admin listener: /metrics, /-/healthy, /-/ready, POST /-/reload and GET /v1/at-risk. Knows
// nothing of sockets.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "at_risk.h"
#include "http_server.h"

namespace replywatch::server {

struct ReloadOutcome {
  bool ok = false;
  std::vector<std::string> errors;  // FILE:LINE:COL: message, or why nothing was tried
  std::size_t platforms = 0;
};

class AdminBackend {
 public:
  virtual ~AdminBackend() = default;
  virtual bool ready() const = 0;
  // Prometheus text format 0.0.4.
  virtual std::string metrics_text() = 0;
  // Validates every rule file; on success the new rules take effect once the state has been
  // rebuilt under them from the journal, while the old ones keep serving.
  virtual ReloadOutcome reload(std::string_view trigger) = 0;
  // Nothing while not ready.
  virtual std::optional<boost::json::object> at_risk(const AtRiskQuery& query) = 0;
  virtual void count_refused_request(std::string_view reason, std::string_view detail) = 0;
};

HttpResponse handle_admin_request(const HttpRequest& request, AdminBackend& backend);

}  // namespace replywatch::server

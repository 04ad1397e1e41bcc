// Posts conversation alerts to one or more Alertmanagers (POST /api/v2/alerts, as Prometheus
// does), on the daemon's io_context, never blocking it: a bounded queue per Alertmanager, one
// request in flight each, retries with backoff, and every outcome counted.
#pragma once

#include <prometheus/counter.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log.h"
#include "replywatch/time.h"

namespace replywatch::server {

// http://HOST[:PORT][/PATH]; Alertmanager's API lives under PATH (a route prefix).
struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string path;  // without a trailing slash; empty for the root
};
std::optional<HttpUrl> parse_http_url(std::string_view text);

struct AlertmanagerClientSettings {
  std::size_t max_queued_alerts = 10'000;  // per Alertmanager; beyond, alerts are dropped
  std::size_t max_batch = 256;             // alerts per request
  int max_attempts = 5;                    // per batch; then it is given up (and counted)
  Duration first_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(5);
};

// The counters of one Alertmanager, in alerts (not requests).
struct AlertmanagerCounters {
  prometheus::Counter* sent = nullptr;    // accepted with a 2xx
  prometheus::Counter* failed = nullptr;  // per failed attempt
};

class AlertmanagerClient {
 public:
  struct Target {
    std::string url;  // as configured, for logs
    HttpUrl parsed;
    AlertmanagerCounters counters;
  };

  AlertmanagerClient(boost::asio::io_context& io, std::vector<Target> targets,
                     prometheus::Counter& dropped, const Logger& log, const TimeSource& time,
                     AlertmanagerClientSettings settings = {});
  ~AlertmanagerClient();
  AlertmanagerClient(const AlertmanagerClient&) = delete;
  AlertmanagerClient& operator=(const AlertmanagerClient&) = delete;

  // Queues alert objects (JSON text) for every Alertmanager and starts sending; returns at once.
  void send(const std::vector<std::string>& alerts);
  // Stops sending; what is queued is abandoned (Alertmanager lets it expire at endsAt).
  void stop();

  std::size_t queued() const;

 private:
  struct Peer;
  std::vector<std::shared_ptr<Peer>> peers_;  // shared with their operations in flight
};

}  // namespace replywatch::server

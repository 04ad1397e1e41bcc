// The metrics of publishing to the JetStream log (log.kind: jetstream; docs/metrics.md): how
// long a request's publish takes, which publishes failed and why, and the connection's state.
// Registered only in jetstream mode, in the daemon's registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>

#include "nats_connection.h"
#include "publish_failure.h"
#include "replywatch/time.h"

namespace replywatch::server {

class PublishMetrics {
 public:
  explicit PublishMetrics(prometheus::Registry& registry);

  // Thread-safe (prometheus-cpp's metrics are): called from the log's and nats.c's threads.
  void published(Duration latency) { latency_.Observe(to_seconds(latency)); }
  void failed(jetstream::PublishFailure failure, std::size_t events) {
    failures_[static_cast<std::size_t>(failure)]->Increment(static_cast<double>(events));
  }
  void state(jetstream::NatsState state) {
    connected_.Set(state == jetstream::NatsState::kConnected ? 1 : 0);
  }

 private:
  prometheus::Histogram& latency_;
  std::array<prometheus::Counter*, jetstream::kPublishFailureCount> failures_{};
  prometheus::Gauge& connected_;
};

}  // namespace replywatch::server

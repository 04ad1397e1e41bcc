#include "publish_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <string>

namespace replywatch::server {

PublishMetrics::PublishMetrics(prometheus::Registry& registry)
    : latency_(prometheus::BuildHistogram()
                   .Name("replywatch_jetstream_publish_seconds")
                   .Help("Time from handing a request's accepted events to the stream to the "
                         "last acknowledgement, per request acknowledged in full.")
                   .Register(registry)
                   .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005,
                                                                    0.01, 0.025, 0.05, 0.1, 0.25,
                                                                    0.5, 1, 2.5, 5, 10})),
      connected_(prometheus::BuildGauge()
                     .Name("replywatch_jetstream_connected")
                     .Help("1 while the daemon is connected to a NATS server, 0 while it "
                           "connects or reconnects.")
                     .Register(registry)
                     .Add({})) {
  auto& family = prometheus::BuildCounter()
                     .Name("replywatch_jetstream_publish_failures_total")
                     .Help(
                         "Accepted events whose publish to the stream failed (their request "
                         "was answered 503), by reason.")
                     .Register(registry);
  for (std::size_t i = 0; i < jetstream::kPublishFailureCount; ++i) {
    const auto failure = static_cast<jetstream::PublishFailure>(i);
    failures_[i] =
        &family.Add({{"reason", std::string(jetstream::publish_failure_label(failure))}});
  }
}

}  // namespace replywatch::server

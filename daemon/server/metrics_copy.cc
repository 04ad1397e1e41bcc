#include "metrics_copy.h"

#include <prometheus/text_serializer.h>

#include "process_metrics.h"

namespace replywatch::server {

MetricsCopy::MetricsCopy(std::vector<prometheus::MetricFamily> own, double started_at_seconds,
                         CurrentHost host, std::size_t series_per_step)
    : own_(std::move(own)),
      started_at_seconds_(started_at_seconds),
      host_(std::move(host)),
      series_per_step_(series_per_step) {}

bool MetricsCopy::step() {
  const auto [host, generation] = host_();
  if (host == nullptr) {
    engine_.reset();
    return true;
  }
  const Instant at = host->engine().watermark();
  if (!engine_ || generation != generation_) {
    engine_.emplace(*host, at);
    generation_ = generation;
  }
  return engine_->step(*host, at, series_per_step_);
}

std::string MetricsCopy::render() const {
  std::string text = prometheus::TextSerializer().Serialize(own_);
  if (engine_) write_engine_metrics(engine_->snapshot(), text);
  text += prometheus::TextSerializer().Serialize(collect_process_metrics(started_at_seconds_));
  return text;
}

}  // namespace replywatch::server

#include "metrics_copy.h"

#include <prometheus/text_serializer.h>

#include "process_metrics.h"

namespace replywatch::server {

MetricsCopy::MetricsCopy(std::vector<prometheus::MetricFamily> own, double started_at_seconds,
                         CurrentHost host, const TimeSource& time, Duration step_budget)
    : own_(std::move(own)),
      started_at_seconds_(started_at_seconds),
      host_(std::move(host)),
      time_(time),
      step_budget_(step_budget) {}

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
  // At least one piece per step, however slow the clock says it was: a copy always advances.
  const SteadyInstant until = time_.steady_now() + step_budget_;
  while (!engine_->step(*host, at, kSeriesPerLook)) {
    if (time_.steady_now() >= until) return false;
  }
  return true;
}

std::string MetricsCopy::render() const {
  std::string text = prometheus::TextSerializer().Serialize(own_);
  if (engine_) write_engine_metrics(engine_->snapshot(), text);
  text += prometheus::TextSerializer().Serialize(collect_process_metrics(started_at_seconds_));
  return text;
}

}  // namespace replywatch::server

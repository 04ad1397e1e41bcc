// What one scrape of the daemon reports, as MetricsScrapes takes it: the daemon's own families
// (collected at once, a few dozen samples), the engine host's figures (copied a slice of shops
// per step, EngineMetricsCopier) and the process's (read when the text is written).
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine_host.h"
#include "engine_metrics_snapshot.h"
#include "metrics_scrapes.h"

namespace replywatch::server {

class MetricsCopy final : public ScrapeCopy {
 public:
  // The host serving now (nullptr before the first is built) and a number that changes whenever
  // it is replaced: a copy under way when a reload swaps the host starts over from the new one.
  using CurrentHost = std::function<std::pair<const EngineHost*, std::uint64_t>()>;

  // About a third of a millisecond of the event loop per step on a 2-core machine.
  static constexpr std::size_t kSeriesPerStep = 500;

  MetricsCopy(std::vector<prometheus::MetricFamily> own, double started_at_seconds,
              CurrentHost host, std::size_t series_per_step = kSeriesPerStep);

  bool step() override;
  std::string render() const override;

 private:
  std::vector<prometheus::MetricFamily> own_;
  double started_at_seconds_ = 0.0;
  CurrentHost host_;
  std::size_t series_per_step_;
  std::optional<EngineMetricsCopier> engine_;
  std::uint64_t generation_ = 0;
};

}  // namespace replywatch::server

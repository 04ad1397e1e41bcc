// What one scrape of the daemon reports, as MetricsScrapes takes it: the daemon's own families
// (collected at once, a few dozen samples), the engine host's figures (copied whole shops at a
// time for up to kStepBudget of the event loop per step, EngineMetricsCopier) and the process's
// (read when the text is written).
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
#include "time_source.h"

namespace replywatch::server {

class MetricsCopy final : public ScrapeCopy {
 public:
  // The host serving now (nullptr before the first is built) and a number that changes whenever
  // it is replaced: a copy under way when a reload swaps the host starts over from the new one.
  using CurrentHost = std::function<std::pair<const EngineHost*, std::uint64_t>()>;

  // A step copies until this much time has passed on `time`'s steady clock (whole milliseconds:
  // between one and two of them): a 10 000-series copy takes a few steps, and a POST waits at
  // most about this long behind one. A fixed count of
  // series per step instead made a copy take twenty-odd turns of a busy loop, each queued
  // behind whatever else was waiting, and the scrape slower by as much.
  static constexpr Duration kStepBudget = std::chrono::milliseconds(2);
  // Series copied between two looks at the clock (some tens of microseconds).
  static constexpr std::size_t kSeriesPerLook = 100;

  MetricsCopy(std::vector<prometheus::MetricFamily> own, double started_at_seconds,
              CurrentHost host, const TimeSource& time, Duration step_budget = kStepBudget);

  bool step() override;
  std::string render() const override;

 private:
  std::vector<prometheus::MetricFamily> own_;
  double started_at_seconds_ = 0.0;
  CurrentHost host_;
  const TimeSource& time_;
  Duration step_budget_;
  std::optional<EngineMetricsCopier> engine_;
  std::uint64_t generation_ = 0;
};

}  // namespace replywatch::server

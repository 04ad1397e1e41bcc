// The engine-derived metrics of docs/metrics.md, built at scrape time from the engine's own
// figures, so a scrape and a replay report of the same events at the same instant cannot disagree.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "engine_host.h"
#include "engine_metrics_snapshot.h"

namespace replywatch::server {

// Every (platform, shop, SLA) series of every shop with an applied event, at `at`; per-platform
// event counters for every loaded platform and event type, zeros included.
std::vector<prometheus::MetricFamily> collect_engine_metrics(const EngineHost& host, Instant at);

// The same families from a snapshot taken earlier.
std::vector<prometheus::MetricFamily> engine_metric_families(const EngineMetricsSnapshot& snapshot);

}  // namespace replywatch::server

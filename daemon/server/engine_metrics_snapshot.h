// What a scrape reports of one EngineHost, copied on the event loop at one instant. Taking it
// costs a pass over the figures (no formatting, no labels); the text is written from it on
// another thread, so a scrape of 10 000 series holds the loop for milliseconds, not for the
// hundreds it takes to write and compress tens of megabytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine_host.h"
#include "replywatch/engine.h"

namespace replywatch::server {

struct EngineMetricsSnapshot {
  struct Platform {
    std::string name;
    PlatformEventCounts counts;
    std::vector<std::pair<std::string, double>> objectives;  // (SLA, objective), where set
    bool service_open = true;
  };
  struct Histogram {
    std::uint32_t bounds = 0;       // index into `bounds`
    std::uint32_t first_count = 0;  // index into `bucket_counts` of its first bucket
    bool observed = false;          // false: every bucket, the sum and the count are 0
    double sum = 0.0;
    std::uint64_t count = 0;
  };

  std::vector<Platform> platforms;
  // Sorted by platform, shop and SLA name, as Engine::figures gives them.
  std::vector<SlaFigures> series;
  // One per series; only for SLAs that observe rounds (not agent_presence).
  std::vector<Histogram> histograms;
  std::vector<std::vector<double>> bounds;   // per (platform, SLA) with a histogram
  std::vector<std::uint64_t> bucket_counts;  // per bound, not cumulative
};

EngineMetricsSnapshot snapshot_engine_metrics(const EngineHost& host, Instant at);

// Takes the same snapshot in bounded slices (Engine::figures_after), so that ingest and timers
// run between them: the platforms and bucket bounds when constructed, then whole shops in name
// order at each step, each shop's figures at the instant its slice is taken. Every step must be
// given the host it was constructed with (the daemon starts over when a reload replaces it).
class EngineMetricsCopier {
 public:
  EngineMetricsCopier(const EngineHost& host, Instant at);
  // Copies about `max_series` more series, evaluated at `at`; true once every shop is copied.
  bool step(const EngineHost& host, Instant at, std::size_t max_series);
  bool done() const { return done_; }
  EngineMetricsSnapshot& snapshot() { return snapshot_; }
  const EngineMetricsSnapshot& snapshot() const { return snapshot_; }

 private:
  EngineMetricsSnapshot snapshot_;
  // (platform, SLA) -> index into snapshot_.bounds
  std::vector<std::vector<std::uint32_t>> bounds_index_;
  bool done_ = false;
};

// Appends the families of docs/metrics.md to `out` as Prometheus text (format 0.0.4), byte for byte
// what prometheus-cpp's TextSerializer writes for collect_engine_metrics' families.
void write_engine_metrics(const EngineMetricsSnapshot& snapshot, std::string& out);

}  // namespace replywatch::server

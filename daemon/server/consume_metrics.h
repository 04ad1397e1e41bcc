// The metrics of consuming the JetStream stream (`consume`; docs/metrics.md): per consumed
// partition whether it has caught up and how many stream messages it is behind, the stream
// position the engine stands at, and the messages applied or passed over. Registered only by a
// daemon that consumes; partition labels are bounded by log.partitions.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <vector>

#include "catch_up_clock.h"
#include "stream_feed.h"

namespace replywatch::server {

class ConsumeMetrics {
 public:
  ConsumeMetrics(prometheus::Registry& registry, const std::vector<std::uint32_t>& partitions);

  // Sets every figure from the feed (event loop only).
  void update(const StreamFeed& feed);

 private:
  struct PerPartition {
    std::uint32_t partition = 0;
    prometheus::Gauge* lag = nullptr;
    prometheus::Gauge* caught_up = nullptr;
  };
  std::vector<PerPartition> partitions_;
  prometheus::Gauge& position_;
  prometheus::Counter& applied_;
  prometheus::Counter& skipped_;
  StreamFeedCounts reported_;
};

}  // namespace replywatch::server

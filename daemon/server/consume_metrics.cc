#include "consume_metrics.h"

#include <string>

namespace replywatch::server {

ConsumeMetrics::ConsumeMetrics(prometheus::Registry& registry,
                               const std::vector<std::uint32_t>& partitions)
    : position_(prometheus::BuildGauge()
                    .Name("replywatch_stream_position")
                    .Help("The stream sequence after the last message this daemon's engine has "
                          "read; a snapshot taken now resumes from here.")
                    .Register(registry)
                    .Add({})),
      applied_(prometheus::BuildCounter()
                   .Name("replywatch_stream_events_applied_total")
                   .Help("Events of the consumed partitions applied to the engine from the "
                         "stream (duplicates of events already applied included).")
                   .Register(registry)
                   .Add({})),
      skipped_(prometheus::BuildCounter()
                   .Name("replywatch_stream_events_skipped_total")
                   .Help("Events read from the stream and not applied: a platform no longer "
                         "loaded, a shop over max_shops, or an impossible watermark.")
                   .Register(registry)
                   .Add({})) {
  auto& lag = prometheus::BuildGauge()
                  .Name("replywatch_stream_consumer_lag_messages")
                  .Help(
                      "Stream messages still to be read before this consumed partition is "
                      "current (0 when caught up).")
                  .Register(registry);
  auto& caught_up = prometheus::BuildGauge()
                        .Name("replywatch_stream_partition_caught_up")
                        .Help(
                            "1 when every stored message of this consumed partition has been "
                            "applied, else 0 (/-/ready is 503 until all are 1).")
                        .Register(registry);
  for (const std::uint32_t partition : partitions) {
    const std::string label = std::to_string(partition);
    partitions_.push_back(PerPartition{partition, &lag.Add({{"partition", label}}),
                                       &caught_up.Add({{"partition", label}})});
  }
}

void ConsumeMetrics::update(const StreamFeed& feed) {
  const jetstream::CatchUpClock& clock = feed.clock();
  for (PerPartition& p : partitions_) {
    p.lag->Set(static_cast<double>(clock.lag(p.partition)));
    p.caught_up->Set(clock.caught_up(p.partition) ? 1 : 0);
  }
  position_.Set(static_cast<double>(clock.position()));
  const StreamFeedCounts& counts = feed.counts();
  applied_.Increment(static_cast<double>(counts.applied - reported_.applied));
  skipped_.Increment(static_cast<double>(counts.skipped - reported_.skipped));
  reported_ = counts;
}

}  // namespace replywatch::server

// A consuming daemon's link between the stream and its engine (`consume`, docs/scale-out.md):
// a reader thread (StreamConsumer) reads the consumed partitions from a stream position, and
// each batch is applied on the event loop through a StreamFeed (event time while behind, the
// wall clock once current). At most a few batches wait for the loop at a time, so a backlog of
// millions of messages is read as fast as the engine applies it, not into memory.
#pragma once

#include <prometheus/registry.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "consume_metrics.h"
#include "engine_host.h"
#include "log.h"
#include "log_config.h"
#include "nats_connection.h"
#include "stream_consumer.h"
#include "stream_feed.h"

namespace replywatch::server {

// The stream's first and last sequence (0 when empty), as the server says now.
struct StreamBounds {
  storage::Sequence first = 1;
  storage::Sequence last = 0;
};

class StreamConsumption {
 public:
  struct Hooks {
    std::function<void(std::function<void()>)> post;  // runs a task on the event loop
    std::function<Instant()> now;                     // the daemon's event time
    std::function<void()> applied;  // after a batch reached the engine (alerts, timers)
  };

  StreamConsumption(const jetstream::LogConfig& log, std::vector<std::uint32_t> partitions,
                    Duration allowed_lateness, std::shared_ptr<jetstream::NatsConnection> nats,
                    const Logger& logger, prometheus::Registry& registry, Hooks hooks);
  // Stops the reader thread (at most one read's wait).
  ~StreamConsumption();
  StreamConsumption(const StreamConsumption&) = delete;
  StreamConsumption& operator=(const StreamConsumption&) = delete;

  // Asks the server for the stream's bounds; false with `error` set when it cannot be asked.
  bool bounds(StreamBounds& out, std::string& error);
  // Starts reading at `position` into `host`, whose state covers the stream before it.
  void start(EngineHost& host, storage::Sequence position, storage::Sequence stream_last);
  // Stops reading; deliveries not yet applied are dropped (a restart reads them again).
  void stop();

  // Advances the engine as time passes (event loop).
  void tick(Instant now) {
    if (feed_) feed_->tick(now);
  }
  // Every consumed partition has applied what the stream held when last asked.
  bool caught_up() const;
  // A line per partition still behind, for /-/ready.
  std::string readiness() const;
  // One past the last stream message read: what a snapshot of the host covers.
  storage::Sequence position() const { return feed_ ? feed_->position() : 1; }
  const std::vector<std::uint32_t>& partitions() const { return partitions_; }

 private:
  void deliver(jetstream::StreamDelivery delivery);  // reader thread
  void apply(jetstream::StreamDelivery& delivery);   // event loop

  jetstream::StreamReaderOptions options_;
  std::vector<std::uint32_t> partitions_;
  Duration allowed_lateness_;
  std::shared_ptr<jetstream::NatsConnection> nats_;
  const Logger& logger_;
  Hooks hooks_;
  jetstream::JetStreamContext js_;
  ConsumeMetrics metrics_;
  std::optional<StreamFeed> feed_;
  bool looked_up_ = false;  // partitions' last sequences known at least once
  bool logged_caught_up_ = false;
  bool reported_down_ = false;

  // Deliveries posted to the loop and not yet applied; the reader waits above the cap.
  std::mutex queue_mutex_;
  std::condition_variable queue_room_;
  std::size_t queued_ = 0;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<jetstream::StreamConsumer> consumer_;  // last: stopped first
};

}  // namespace replywatch::server

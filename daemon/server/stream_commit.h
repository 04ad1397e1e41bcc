// The daemon's ingest path with `log.kind: jetstream`: the NATS connection, the stream's set-up
// (in the background, retried until the cluster answers), and the commit of validated events:
// publish every one to the stream (JetStreamEventLog), and answer once the stream acknowledged
// them all: 2xx with the stream's duplicates counted, or 503 with nothing acknowledged. Events
// are not offered to this daemon's engine here: the partition consumers apply them from the
// stream, in the stream's order, on every daemon that consumes their partition.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest_handler.h"
#include "jetstream_event_log.h"
#include "log.h"
#include "log_config.h"
#include "nats_connection.h"
#include "publish_metrics.h"
#include "stream_setup.h"
#include "time_source.h"

namespace replywatch::server {

class StreamCommit {
 public:
  struct Hooks {
    // Runs a task on the daemon's event loop.
    std::function<void(std::function<void()>)> post;
    // A request answered 503 because its events were not all acknowledged (counted and logged
    // by the daemon as not_durable).
    std::function<void(const std::string& detail)> not_durable;
    // The daemon's event time (EventClock: never ahead of the time really elapsed).
    std::function<Instant()> now;
  };

  StreamCommit(jetstream::LogConfig config, Duration allowed_lateness, const TimeSource& time,
               const Logger& log, prometheus::Registry& registry, Hooks hooks);
  // Stops the set-up; requests still waiting are answered 503.
  ~StreamCommit();
  StreamCommit(const StreamCommit&) = delete;
  StreamCommit& operator=(const StreamCommit&) = delete;

  // Connects (in the background when the cluster does not answer yet) and sets the stream up;
  // `ready` runs on the event loop once events can be published, `fatal` when the stream can
  // never be used as configured (a partition count that differs, ...). False (logged) when the
  // connection cannot even be tried.
  bool start(const jetstream::StreamNeeds& needs, std::function<void()> ready,
             std::function<void(const std::string&)> fatal);

  // Publishes `events` (validated) and answers through `done` on the event loop.
  void commit(std::vector<Event> events, std::function<void(IngestCommit)> done);

  // Connected to a NATS server (readiness).
  bool connected() const { return connection_ && connection_->connected(); }
  // The log behind the seam, once the stream is set up (null before).
  storage::EventLog* log() { return stream_log_.get(); }
  const std::shared_ptr<jetstream::NatsConnection>& connection() const { return connection_; }

 private:
  void set_up(jetstream::StreamNeeds needs, std::function<void()> ready,
              std::function<void(const std::string&)> fatal);

  jetstream::LogConfig config_;
  Duration allowed_lateness_;
  const TimeSource& time_;
  const Logger& logger_;
  Hooks hooks_;
  PublishMetrics metrics_;
  std::shared_ptr<jetstream::NatsConnection> connection_;
  std::unique_ptr<jetstream::JetStreamEventLog> stream_log_;
  Instant last_watermark_{};  // the watermark headers never go back (event loop only)

  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread setup_;
};

}  // namespace replywatch::server

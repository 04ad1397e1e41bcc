// The event log as a JetStream stream shared by every daemon of a deployment: append() publishes
// each event to its partition's subject (event_message.h gives the format), pipelined (one
// request's events go out back to back, their acknowledgements come back as they come; a
// request of 10 000 events is not 10 000 round trips), and completes once the stream has
// acknowledged every one (stored on a quorum of its replicas), or once any failed or was not
// acknowledged within log.publish_timeout. JetStream's duplicate window recognises a retried
// event by its Nats-Msg-Id, across ingest nodes: the completion lists those as duplicates.
//
// Unlike the local log, sequences are the stream's: other ingest nodes' events interleave, so
// `first` of an outcome is the stream sequence of the batch's first stored event and `count`
// the number stored; nothing here is renumbered or contiguous. Retention is the stream's own
// (its max age), so retain_from does nothing.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event_log.h"
#include "log_config.h"
#include "nats_connection.h"
#include "publish_failure.h"

namespace replywatch::jetstream {

// What the daemon's metrics see of publishing; each called on the log's threads.
struct PublishHooks {
  // Monotonic time (the daemon's TimeSource), for the latency of each request's publish.
  std::function<Duration()> monotonic_now;
  // A request's events all acknowledged, this long after append().
  std::function<void(Duration)> published;
  // `events` events of one request failed for `failure`.
  std::function<void(PublishFailure, std::size_t events)> failed;
};

class JetStreamEventLog final : public storage::EventLog {
 public:
  // Publishes on `connection`, which must stay open while the log lives; the stream must exist
  // (ensure_stream). Null with `error` set when no JetStream context can be made.
  static std::unique_ptr<JetStreamEventLog> open(std::shared_ptr<NatsConnection> connection,
                                                 const LogConfig& config, PublishHooks hooks,
                                                 std::string& error);
  // Requests still waiting complete with an error (nothing of them is acknowledged).
  ~JetStreamEventLog() override;
  JetStreamEventLog(const JetStreamEventLog&) = delete;
  JetStreamEventLog& operator=(const JetStreamEventLog&) = delete;

  void append(Instant watermark, std::span<const Event* const> events,
              storage::AppendDone done) override;
  void append_unencoded(Instant watermark, std::vector<const Event*> events,
                        storage::AppendDone done) override;

  std::unique_ptr<storage::EventLogReader> read_from(storage::Sequence first,
                                                     const storage::ReadOptions& options,
                                                     storage::LogError& error) const override;
  void retain_from(storage::Sequence /*first_needed*/) override {}
  // One past the highest stream sequence this process had acknowledged.
  storage::Sequence next_sequence() const override;
  storage::Sequence first_sequence() const override { return 1; }
  storage::LogStats stats() const override;
  // The stream is not a place on this machine that could be pulled away.
  storage::LogError check_identity() const override { return {}; }

  bool connected() const { return connection_->connected(); }

 private:
  struct Batch;
  struct Message;
  static Message prepare(const Event& event, const LogConfig& config);
  JetStreamEventLog(std::shared_ptr<NatsConnection> connection, const LogConfig& config,
                    PublishHooks hooks);
  void enqueue(std::shared_ptr<Batch> batch);
  void run_publisher();
  void publish(const std::shared_ptr<Batch>& batch);
  void settle(Batch& batch, std::size_t index, const jsPubAck* ack, PublishFailure failure,
              const std::string& detail, std::unique_lock<std::mutex>& lock);
  void complete_ready(std::unique_lock<std::mutex>& lock);
  static void on_ack(jsCtx* context, natsMsg* message, jsPubAck* ack, jsPubAckErr* error,
                     void* closure);

  std::shared_ptr<NatsConnection> connection_;
  LogConfig config_;
  PublishHooks hooks_;
  JetStreamContext context_;

  mutable std::mutex mutex_;
  std::condition_variable queued_signal_;
  std::deque<std::shared_ptr<Batch>> queue_;  // appended, not yet handed to nats.c
  std::deque<std::shared_ptr<Batch>> order_;  // appended, not yet completed, oldest first
  // Messages handed to nats.c and not yet acknowledged, by the message nats.c hands back.
  std::unordered_map<natsMsg*, std::pair<std::shared_ptr<Batch>, std::size_t>> in_flight_;
  bool stopping_ = false;
  storage::Sequence highest_ = 0;
  std::uint64_t appended_ = 0;
  std::uint64_t failed_batches_ = 0;
  std::thread publisher_;
};

}  // namespace replywatch::jetstream

#include "jetstream_event_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "event_message.h"
#include "partitioning.h"
#include "replywatch/event_codec.h"

namespace replywatch::jetstream {
namespace {

// Acknowledgements nats.c waits for at once; a request beyond it waits (on the publisher thread,
// never the event loop) for room. 10 000-event requests from a few senders fit.
constexpr std::int64_t kMaxPendingPublishes = 262'144;

struct MessageDeleter {
  void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};

}  // namespace

// One event ready to go out.
struct JetStreamEventLog::Message {
  std::string subject;
  std::string id;
  std::string payload;
};

// One append: its events, and what the stream said of each.
struct JetStreamEventLog::Batch {
  Instant watermark{};
  std::vector<const Event*> events;  // append_unencoded: encoded on the publisher thread
  std::vector<Message> messages;     // append: encoded before append returns
  storage::AppendDone done;
  Duration started{};
  std::size_t outstanding = 0;  // handed to nats.c, not yet settled
  bool submitted = false;       // every event handed to nats.c (or failed before)
  bool complete = false;
  std::vector<std::size_t> duplicates;
  storage::Sequence first = 0;
  std::size_t stored = 0;
  std::size_t failed = 0;
  PublishFailure failure = PublishFailure::kClientError;
  std::string detail;

  std::size_t size() const { return messages.empty() ? events.size() : messages.size(); }
};

JetStreamEventLog::Message JetStreamEventLog::prepare(const Event& event, const LogConfig& config) {
  return {config.subject_of(partition_of(event.platform, event.shop, config.partitions)),
          message_id(event), encode_event(event)};
}

std::unique_ptr<JetStreamEventLog> JetStreamEventLog::open(
    std::shared_ptr<NatsConnection> connection, const LogConfig& config, PublishHooks hooks,
    std::string& error) {
  std::unique_ptr<JetStreamEventLog> log(
      new JetStreamEventLog(std::move(connection), config, std::move(hooks)));
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = static_cast<std::int64_t>(config.publish_timeout.count());
  options.PublishAsync.MaxPending = kMaxPendingPublishes;
  options.PublishAsync.StallWait = static_cast<std::int64_t>(config.publish_timeout.count());
  options.PublishAsync.AckHandler = &JetStreamEventLog::on_ack;
  options.PublishAsync.AckHandlerClosure = log.get();
  log->context_ = log->connection_->jetstream(&options, error);
  if (!log->context_) return nullptr;
  log->publisher_ = std::thread([raw = log.get()] { raw->run_publisher(); });
  return log;
}

JetStreamEventLog::JetStreamEventLog(std::shared_ptr<NatsConnection> connection,
                                     const LogConfig& config, PublishHooks hooks)
    : connection_(std::move(connection)), config_(config), hooks_(std::move(hooks)) {}

JetStreamEventLog::~JetStreamEventLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_signal_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  // Take back what nats.c still waits for: no acknowledgement handler runs for those any more.
  if (context_) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, context_.get()) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
  }
  std::unique_lock lock(mutex_);
  for (auto& [message, slot] : in_flight_) {
    Batch& batch = *slot.first;
    --batch.outstanding;
    ++batch.failed;
    batch.failure = PublishFailure::kClientError;
    batch.detail = "the daemon is stopping";
  }
  in_flight_.clear();
  for (const std::shared_ptr<Batch>& batch : order_) {
    batch->submitted = true;
    if (batch->outstanding == 0) batch->complete = true;
  }
  complete_ready(lock);
  lock.unlock();
  context_.reset();
}

void JetStreamEventLog::append(Instant watermark, std::span<const Event* const> events,
                               storage::AppendDone done) {
  auto batch = std::make_shared<Batch>();
  batch->watermark = watermark;
  batch->done = std::move(done);
  batch->messages.reserve(events.size());
  for (const Event* event : events) batch->messages.push_back(prepare(*event, config_));
  enqueue(std::move(batch));
}

void JetStreamEventLog::append_unencoded(Instant watermark, std::vector<const Event*> events,
                                         storage::AppendDone done) {
  auto batch = std::make_shared<Batch>();
  batch->watermark = watermark;
  batch->done = std::move(done);
  batch->events = std::move(events);
  enqueue(std::move(batch));
}

void JetStreamEventLog::enqueue(std::shared_ptr<Batch> batch) {
  if (hooks_.monotonic_now) batch->started = hooks_.monotonic_now();
  {
    std::lock_guard lock(mutex_);
    order_.push_back(batch);
    queue_.push_back(std::move(batch));
  }
  queued_signal_.notify_one();
}

void JetStreamEventLog::run_publisher() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_signal_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    std::shared_ptr<Batch> batch = std::move(queue_.front());
    queue_.pop_front();
    if (stopping_) {
      batch->failed = batch->size();
      batch->failure = PublishFailure::kClientError;
      batch->detail = "the daemon is stopping";
      batch->submitted = true;
      batch->complete = true;
      complete_ready(lock);
      continue;
    }
    lock.unlock();
    publish(batch);
    lock.lock();
  }
}

// Runs on the publisher thread, without the lock but while holding it for each registration.
void JetStreamEventLog::publish(const std::shared_ptr<Batch>& batch) {
  const std::size_t count = batch->size();
  const std::string watermark = watermark_header(batch->watermark);
  // Not connected: fail at once rather than fill nats.c's reconnect buffer and wait for the
  // timeout; the client retries, and the stream's duplicate window covers any overlap.
  const bool connected = connection_->connected();
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = static_cast<std::int64_t>(config_.publish_timeout.count());
  for (std::size_t i = 0; i < count; ++i) {
    PublishFailure failure = PublishFailure::kNotConnected;
    std::string detail = "not connected to any NATS server";
    if (connected) {
      const Message prepared =
          batch->messages.empty() ? prepare(*batch->events[i], config_) : Message{};
      const Message& m = batch->messages.empty() ? prepared : batch->messages[i];
      natsMsg* raw = nullptr;
      natsStatus status = natsMsg_Create(&raw, m.subject.c_str(), nullptr, m.payload.data(),
                                         static_cast<int>(m.payload.size()));
      std::unique_ptr<natsMsg, MessageDeleter> message(raw);
      if (status == NATS_OK) status = natsMsgHeader_Set(raw, kMessageIdHeader, m.id.c_str());
      if (status == NATS_OK) status = natsMsgHeader_Set(raw, kWatermarkHeader, watermark.c_str());
      if (status == NATS_OK) {
        std::unique_lock lock(mutex_);
        in_flight_.emplace(raw, std::make_pair(batch, i));
        ++batch->outstanding;
        lock.unlock();
        status = js_PublishMsgAsync(context_.get(), &raw, &options);
        if (status == NATS_OK) {
          (void)message.release();  // nats.c owns it now; on_ack destroys it
          continue;
        }
        lock.lock();
        in_flight_.erase(message.get());
        --batch->outstanding;
      }
      failure = status == NATS_TIMEOUT ? PublishFailure::kTimeout : PublishFailure::kClientError;
      detail = nats_error_text(status);
    }
    std::unique_lock lock(mutex_);
    settle(*batch, i, nullptr, failure, detail, lock);
  }
  std::unique_lock lock(mutex_);
  batch->submitted = true;
  if (batch->outstanding == 0) {
    batch->complete = true;
    complete_ready(lock);
  }
}

// Records what the stream said of one event (an acknowledgement, or a failure when `ack` is
// null); with the lock held.
void JetStreamEventLog::settle(Batch& batch, std::size_t index, const jsPubAck* ack,
                               PublishFailure failure, const std::string& detail,
                               std::unique_lock<std::mutex>& lock) {
  if (ack != nullptr) {
    if (ack->Duplicate) {
      batch.duplicates.push_back(index);
    } else {
      ++batch.stored;
      if (batch.first == 0 || ack->Sequence < batch.first) batch.first = ack->Sequence;
      highest_ = std::max<storage::Sequence>(highest_, ack->Sequence);
    }
  } else {
    if (batch.failed == 0) {
      batch.failure = failure;
      batch.detail = detail;
    }
    ++batch.failed;
  }
  if (batch.submitted && batch.outstanding == 0 && !batch.complete) {
    batch.complete = true;
    complete_ready(lock);
  }
}

// Runs the completions of the oldest batches that are complete, in append order (the seam's
// promise), outside the lock.
void JetStreamEventLog::complete_ready(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<Batch>> ready;
  while (!order_.empty() && order_.front()->complete) {
    ready.push_back(std::move(order_.front()));
    order_.pop_front();
  }
  if (ready.empty()) return;
  for (const std::shared_ptr<Batch>& batch : ready) {
    if (batch->failed > 0) {
      ++failed_batches_;
    } else {
      appended_ += batch->stored;
    }
  }
  lock.unlock();
  for (const std::shared_ptr<Batch>& batch : ready) {
    storage::AppendOutcome outcome;
    if (batch->failed > 0) {
      if (hooks_.failed) hooks_.failed(batch->failure, batch->failed);
      outcome.error.code = std::make_error_code(std::errc::io_error);
      const std::string_view text = publish_failure_text(batch->failure);
      outcome.error.message = fmt::format(
          "{} of {} event(s) not acknowledged by the stream {}: {}{}", batch->failed, batch->size(),
          config_.stream, text,
          batch->detail.empty() || batch->detail == text ? std::string()
                                                         : fmt::format(" ({})", batch->detail));
    } else {
      if (hooks_.published && hooks_.monotonic_now) {
        hooks_.published(hooks_.monotonic_now() - batch->started);
      }
      std::sort(batch->duplicates.begin(), batch->duplicates.end());
      outcome.first = batch->first;
      outcome.count = batch->stored;
      outcome.duplicates = std::move(batch->duplicates);
    }
    batch->done(std::move(outcome));
  }
  lock.lock();
}

void JetStreamEventLog::on_ack(jsCtx* /*context*/, natsMsg* message, jsPubAck* ack,
                               jsPubAckErr* error, void* closure) {
  auto* self = static_cast<JetStreamEventLog*>(closure);
  std::unique_ptr<natsMsg, MessageDeleter> owned(message);
  std::unique_lock lock(self->mutex_);
  const auto found = self->in_flight_.find(message);
  if (found == self->in_flight_.end()) return;  // taken back at shutdown
  const std::shared_ptr<Batch> batch = std::move(found->second.first);
  const std::size_t index = found->second.second;
  self->in_flight_.erase(found);
  --batch->outstanding;
  PublishFailure failure = PublishFailure::kClientError;
  std::string detail;
  if (ack == nullptr) {
    const natsStatus status = error != nullptr ? error->Err : NATS_ERR;
    if (status == NATS_TIMEOUT) {
      failure = PublishFailure::kTimeout;
    } else if (error != nullptr && error->ErrCode != 0) {
      failure = PublishFailure::kStreamError;
    }
    detail =
        error != nullptr && error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(status);
  }
  self->settle(*batch, index, ack, failure, detail, lock);
}

// Reading back is the consuming side's (stream_reader.h, with the partitions this daemon
// consumes); until it is wired here, a rebuild from the stream is refused with this message.
std::unique_ptr<storage::EventLogReader> JetStreamEventLog::read_from(
    storage::Sequence first, const storage::ReadOptions& /*options*/,
    storage::LogError& error) const {
  error.code = std::make_error_code(std::errc::operation_not_supported);
  error.message =
      fmt::format("reading the stream {} back (from sequence {}) is not supported by this build",
                  config_.stream, first);
  return nullptr;
}

storage::Sequence JetStreamEventLog::next_sequence() const {
  std::lock_guard lock(mutex_);
  return highest_ + 1;
}

storage::LogStats JetStreamEventLog::stats() const {
  std::lock_guard lock(mutex_);
  storage::LogStats stats;
  stats.appended = appended_;
  stats.write_errors = failed_batches_;
  return stats;
}

}  // namespace replywatch::jetstream

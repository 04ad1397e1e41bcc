#include "stream_consumption.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

namespace replywatch::server {
namespace {

// Batches (of up to 1 024 messages) posted to the event loop and not yet applied: enough to
// keep the engine busy while the reader fetches the next, little enough to bound memory.
constexpr std::size_t kQueuedDeliveries = 4;

}  // namespace

StreamConsumption::StreamConsumption(const jetstream::LogConfig& log,
                                     std::vector<std::uint32_t> partitions,
                                     Duration allowed_lateness,
                                     std::shared_ptr<jetstream::NatsConnection> nats,
                                     const Logger& logger, prometheus::Registry& registry,
                                     Hooks hooks)
    : partitions_(std::move(partitions)),
      allowed_lateness_(allowed_lateness),
      nats_(std::move(nats)),
      logger_(logger),
      hooks_(std::move(hooks)),
      metrics_(registry, partitions_) {
  options_.stream = log.stream;
  options_.subject_prefix = log.subject_prefix;
  options_.partitions = log.partitions;
  options_.consumed = partitions_;
}

StreamConsumption::~StreamConsumption() { stop(); }

void StreamConsumption::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_room_.notify_all();
  consumer_.reset();
  *alive_ = false;
}

bool StreamConsumption::bounds(StreamBounds& out, std::string& error) {
  if (!js_) {
    js_ = nats_->jetstream(nullptr, error);
    if (!js_) return false;
  }
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const natsStatus status =
      js_GetStreamInfo(&info, js_.get(), options_.stream.c_str(), nullptr, &code);
  if (status != NATS_OK) {
    error = fmt::format("cannot look the stream {} up: {} (JetStream error {})", options_.stream,
                        natsStatus_GetText(status), static_cast<int>(code));
    return false;
  }
  out.first = std::max<storage::Sequence>(info->State.FirstSeq, 1);
  out.last = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  return true;
}

void StreamConsumption::start(EngineHost& host, storage::Sequence position,
                              storage::Sequence stream_last) {
  feed_.emplace(partitions_, allowed_lateness_);
  feed_->start(host, position, stream_last);
  metrics_.update(*feed_);
  consumer_ = std::make_unique<jetstream::StreamConsumer>(
      nats_->handle(), js_.get(), options_, position,
      [this](jetstream::StreamDelivery delivery) { deliver(std::move(delivery)); });
}

void StreamConsumption::deliver(jetstream::StreamDelivery delivery) {
  {
    std::unique_lock lock(queue_mutex_);
    queue_room_.wait(lock, [this] { return stopping_ || queued_ < kQueuedDeliveries; });
    if (stopping_) return;
    ++queued_;
  }
  auto shared = std::make_shared<jetstream::StreamDelivery>(std::move(delivery));
  hooks_.post([this, alive = alive_, shared] {
    if (!*alive) return;
    {
      std::lock_guard lock(queue_mutex_);
      --queued_;
    }
    queue_room_.notify_one();
    apply(*shared);
  });
}

void StreamConsumption::apply(jetstream::StreamDelivery& delivery) {
  jetstream::CatchUpClock& clock = feed_->clock();
  if (!delivery.connected) {
    clock.set_connected(false);
    if (!reported_down_) {
      logger_.warning(
          "reading the stream {} failed: {}; the engine holds at event time until "
          "it can read again",
          options_.stream, delivery.problem.empty() ? "not connected" : delivery.problem);
      reported_down_ = true;
    }
    logged_caught_up_ = false;
  } else {
    clock.set_connected(true);
    if (reported_down_) logger_.info("reading the stream {} again", options_.stream);
    reported_down_ = false;
  }
  for (const auto& [partition, last] : delivery.partition_lasts) {
    clock.partition_last(partition, last);
  }
  if (!delivery.partition_lasts.empty()) looked_up_ = true;
  // A failed read still hands over what it read before failing, and the reader reopens after
  // the last of those: they are applied, whatever the state of the link.
  feed_->apply(delivery.records, delivery.connected ? delivery.pending : clock.pending(),
               delivery.next, hooks_.now());
  metrics_.update(*feed_);
  if (!logged_caught_up_ && caught_up()) {
    logged_caught_up_ = true;
    logger_.info("caught up with the stream {} at sequence {} (partitions {})", options_.stream,
                 feed_->position(), fmt::join(partitions_, ","));
  }
  hooks_.applied();
}

bool StreamConsumption::caught_up() const {
  if (!feed_) return false;
  const jetstream::CatchUpClock& clock = feed_->clock();
  if (clock.caught_up()) return true;
  if (!looked_up_) return false;
  for (const std::uint32_t partition : partitions_) {
    if (!clock.caught_up(partition)) return false;
  }
  return true;
}

std::string StreamConsumption::readiness() const {
  if (!feed_) return "the stream is not being read yet\n";
  std::string text;
  const jetstream::CatchUpClock& clock = feed_->clock();
  if (caught_up()) {
    return fmt::format("partitions {} caught up at stream sequence {}\n",
                       fmt::join(partitions_, ","), clock.position());
  }
  for (const std::uint32_t partition : partitions_) {
    if (looked_up_ && clock.caught_up(partition)) continue;
    text += looked_up_ ? fmt::format("partition {} is {} message(s) behind\n", partition,
                                     clock.lag(partition))
                       : fmt::format("partition {} is catching up\n", partition);
  }
  if (text.empty()) text = fmt::format("{} message(s) still to read\n", clock.pending());
  return text;
}

}  // namespace replywatch::server

// log.kind jetstream (docs/scale-out.md): the members of Daemon::Impl that set up the stream,
// start publishing to it and start its consumers from the newest usable snapshot.
#include <filesystem>

#include "daemon_impl.h"

namespace replywatch::server {

namespace net = boost::asio;
using daemon_detail::notify_systemd;

// log.kind jetstream: the data directory holds the lock and snapshots only; events go to the
// stream (stream_commit.h). Ready once the stream is set up.
bool Daemon::Impl::open_stream() {
  std::error_code error;
  std::filesystem::create_directories(config_.data, error);
  storage::LogError failure;
  if (!error) lock_ = storage::DataDirectoryLock::acquire(config_.data, failure);
  if (error || !lock_) {
    log_.error("cannot lock the data directory {}: {}", config_.data,
               error ? error.message() : failure.message);
    return false;
  }
  StreamCommit::Hooks hooks;
  hooks.post = [this](std::function<void()> task) { net::post(io_, std::move(task)); };
  hooks.not_durable = [this](const std::string& detail) {
    refuse(Listener::kIngest, RefusalReason::kNotDurable, detail, {});
  };
  hooks.now = [this] { return clock_.now(); };
  stream_ = std::make_unique<StreamCommit>(config_.log, config_.allowed_lateness, time_, log_,
                                           *metrics_.registry, std::move(hooks));
  jetstream::StreamNeeds needs;
  needs.max_age = LogRetention::horizon_of(*rules_, config_.dedup_retention);
  needs.dedup_retention = config_.dedup_retention;
  return stream_->start(
      needs, [this] { finish_stream_start(); },
      [this](const std::string& why) {
        log_.error("cannot use the stream: {}", why);
        exit_code_ = 1;
        shutdown("the stream cannot be used");
      });
}

void Daemon::Impl::finish_stream_start() {
  if (stopping_) return;
  if (config_.consume.consumes_any()) return start_consuming();
  set_host(new_host(rules_));
  go_live(*host_, nullptr);
  advance_to_now();
  arm_resend_timer();
  ready_ = true;
  log_.info("publishing accepted events to the stream {}; ready", config_.log.stream);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

// The newest usable snapshot, then the consumed partitions from its stream position on, in event
// time until caught up (docs/scale-out.md). Ingest (when on) is ready at once; /-/ready waits
// for the consumer.
void Daemon::Impl::start_consuming() {
  if (!make_snapshotter()) {
    exit_code_ = 1;
    return shutdown("the snapshot directory cannot be used");
  }
  const std::vector<std::uint32_t> partitions = config_.consume.partitions(config_.log.partitions);
  if (!consumption_) {
    StreamConsumption::Hooks hooks;
    hooks.post = [this](std::function<void()> task) { net::post(io_, std::move(task)); };
    hooks.now = [this] { return clock_.now(); };
    hooks.applied = [this] { on_stream_applied(); };
    consumption_ = std::make_unique<StreamConsumption>(
        config_.log, partitions, config_.allowed_lateness, stream_->connection(), log_,
        *metrics_.registry, std::move(hooks));
  }
  StreamBounds bounds;
  std::string error;
  if (!consumption_->bounds(bounds, error)) {
    log_.warning("{}; trying again in 1 s", error);
    auto retry = std::make_shared<net::steady_timer>(io_, std::chrono::seconds(1));
    retry->async_wait([this, retry](boost::system::error_code failed) {
      if (!failed) finish_stream_start();
    });
    return;
  }
  StateRebuild::Inputs inputs;
  inputs.identity = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  inputs.rules = rules_;
  inputs.new_host = [this](std::shared_ptr<const RuleSet> for_rules) {
    return new_host(std::move(for_rules));
  };
  inputs.logger = &log_;
  inputs.metrics = &metrics_;
  RebuildReport report;
  // Any older position is accepted: what the stream's max age removed after it is gone for
  // every consumer alike, and an older snapshot would miss more.
  StateRebuild::SnapshotChoice choice =
      StateRebuild::newest_snapshot(inputs, snapshots_->store(), 1, bounds.last + 1, report);
  storage::Sequence position = bounds.first;
  if (choice.host) {
    set_host(std::move(choice.host));
    unjournaled_ = std::move(choice.unlogged);
    position = choice.sequence;
    if (position < bounds.first) {
      log_.warning(
          "the stream no longer holds messages {} to {} after the snapshot {}: their events "
          "are missing from this daemon's state",
          position, bounds.first - 1, choice.path);
    }
  } else {
    set_host(new_host(rules_));
  }
  identity_ = inputs.identity;
  applied_end_ = position;
  snapshots_->restored(position, choice.host ? choice.sequence : 0);
  consumption_->start(*host_, position, bounds.last);
  go_live(*host_, nullptr);
  arm_resend_timer();
  arm_snapshot_timer();
  ready_ = true;
  log_.info(
      "{}consuming partitions {} of the stream {} from sequence {}{} ({} message(s) to "
      "catch up with); ready",
      config_.ingest ? "publishing accepted events and " : "", config_.consume.to_string(),
      config_.log.stream, position,
      choice.path.empty() ? std::string() : fmt::format(" (the snapshot {})", choice.path),
      bounds.last >= position ? bounds.last - position + 1 : 0);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

// A batch of the stream reached the engine: it may have new deadlines and alerts.
void Daemon::Impl::on_stream_applied() {
  if (stopping_) return;
  applied_end_ = consumption_->position();
  flush_alerts(false);
  engine_timer_.cancel();  // its handler does not re-arm when cancelled
  arm_engine_timer();
}

}  // namespace replywatch::server

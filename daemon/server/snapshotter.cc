#include "snapshotter.h"

#include <filesystem>

namespace replywatch::server {

Snapshotter::Snapshotter(SnapshotStore store, SnapshotSchedule schedule, const TimeSource& time,
                         const Logger& log, DaemonMetrics* metrics)
    : store_(std::move(store)),
      schedule_(schedule),
      time_(time),
      log_(log),
      metrics_(metrics),
      last_started_at_(time.steady_now()) {}

void Snapshotter::restored(std::uint64_t sequence, std::uint64_t snapshot_sequence) {
  newest_sequence_ = snapshot_sequence;
  last_started_ = snapshot_sequence != 0 ? snapshot_sequence : sequence;
  last_started_at_ = time_.steady_now();
}

bool Snapshotter::due(std::uint64_t sequence) const {
  if (sequence <= last_started_) return false;  // nothing new since the last one
  if (schedule_.every_events != 0 && sequence - last_started_ >= schedule_.every_events) {
    return true;
  }
  return time_.steady_now() - last_started_at_ >= schedule_.interval;
}

bool Snapshotter::maybe_start(const EngineHost& host, const RuleSetIdentity& identity,
                              const UnloggedCounts& unlogged, std::uint64_t sequence) {
  if (child_.running() || !due(sequence)) return false;
  return start(host, identity, unlogged, sequence);
}

bool Snapshotter::start(const EngineHost& host, const RuleSetIdentity& identity,
                        const UnloggedCounts& unlogged, std::uint64_t sequence) {
  // No check for news here: after a reload the same records give another state.
  if (child_.running()) return false;
  const Instant written_at = time_.now();
  const SteadyInstant before = time_.steady_now();
  const std::error_code error = child_.start([&] {
    // In the child: the state as it was at the fork; no lock, no logging.
    return store_.write(sequence, written_at,
                        [&](SnapshotWriter& out) { save_state(out, host, identity, unlogged); });
  });
  const SteadyInstant after = time_.steady_now();
  // Counted from the start either way, so that a failing fork is not retried every turn.
  last_started_ = sequence;
  last_started_at_ = after;
  if (error) {
    if (metrics_ != nullptr) metrics_->snapshot_write_failures.Increment();
    log_.error("cannot start a snapshot (fork): {}", error.message());
    return false;
  }
  if (metrics_ != nullptr) metrics_->snapshot_last_stall.Set(to_seconds(after - before));
  writing_sequence_ = sequence;
  writing_since_ = before;
  return true;
}

bool Snapshotter::poll() {
  const auto outcome = child_.poll();
  if (!outcome) return false;
  finished(*outcome);
  return true;
}

void Snapshotter::wait() {
  if (child_.running()) finished(child_.wait());
}

void Snapshotter::finished(std::error_code error) {
  const double seconds = to_seconds(time_.steady_now() - writing_since_);
  if (error) {
    if (metrics_ != nullptr) metrics_->snapshot_write_failures.Increment();
    log_.error("snapshot of the log up to record {} failed: {}; the previous snapshots stay",
               writing_sequence_, error.message());
    return;
  }
  newest_sequence_ = writing_sequence_;
  std::error_code size_error;
  std::error_code list_error;
  const auto files = store_.list(list_error);
  const std::uintmax_t bytes =
      files.empty() ? 0 : std::filesystem::file_size(files.front().path, size_error);
  if (metrics_ != nullptr) {
    metrics_->snapshots_written.Increment();
    metrics_->snapshot_last_success.Set(to_seconds(time_.now().time_since_epoch()));
    metrics_->snapshot_last_duration.Set(seconds);
    if (!size_error) metrics_->snapshot_last_bytes.Set(static_cast<double>(bytes));
  }
  log_.info("snapshot of the log up to record {} written in {:.3f} s ({} bytes)", writing_sequence_,
            seconds, size_error ? 0 : bytes);
  if (const std::error_code prune_error = store_.prune(schedule_.kept)) {
    log_.warning("cannot delete old snapshots in {}: {}", store_.directory(),
                 prune_error.message());
  }
}

}  // namespace replywatch::server

// Restore, reload, snapshots and retention of the local event log (docs/storage.md): the
// members of Daemon::Impl that build a host from the snapshots and the log and swap it in.
#include <filesystem>

#include "daemon_impl.h"
#include "journal_migration.h"
#include "replywatch/rule_loader.h"

namespace replywatch::server {

namespace net = boost::asio;
using daemon_detail::notify_systemd;

namespace {

// Log records applied per turn of the event loop while restoring, so /-/healthy and
// /-/ready keep answering.
constexpr std::size_t kRestoreLinesPerTurn = 4'096;

}  // namespace

bool Daemon::Impl::open_data_directory() {
  std::error_code error;
  std::filesystem::create_directories(config_.data, error);
  if (error) {
    log_.error("cannot create the data directory {}: {}", config_.data, error.message());
    return false;
  }
  storage::LogError failure;
  lock_ = storage::DataDirectoryLock::acquire(config_.data, failure);
  if (!lock_) {
    log_.error("cannot lock the data directory: {}", failure.message);
    return false;
  }
  log_path_ = (std::filesystem::path(config_.data) / "log").string();
  storage::MigrationReport migration;
  if ((failure = storage::migrate_journal(config_.data, log_path_, migration))) {
    log_.error("cannot convert the old journal to the event log: {}", failure.message);
    return false;
  }
  if (migration.migrated) {
    log_.info(
        "converted the old journal to the event log {}: {} record(s), {} line(s) that were not "
        "records skipped, {} byte(s) of an unfinished last line dropped; the old file is kept "
        "as {}",
        log_path_, migration.records, migration.skipped_lines, migration.torn_bytes,
        migration.kept_as);
  }
  storage::LocalLogOptions options;
  options.directory = log_path_;
  options.segment_bytes = config_.log_segment_bytes;
  options.fsync = config_.fsync == FsyncMode::kAlways ? storage::FsyncPolicy::kAlways
                                                      : storage::FsyncPolicy::kInterval;
  options.repair = config_.journal_repair;
  options.also_check = [lock = lock_.get()] { return lock->check(); };
  storage::OpenReport report;
  event_log_ = storage::LocalEventLog::open(std::move(options), failure, &report);
  if (!event_log_) {
    log_.error("cannot open the event log: {}", failure.message);
    return false;
  }
  if (report.torn_bytes > 0) {
    log_.warning("{}: cut {} byte(s) of an unfinished last record (never acknowledged)",
                 report.torn_at, report.torn_bytes);
  }
  if (report.skipped_records > 0) {
    log_.warning("{}: skipping {} damaged record(s) in the newest segment (--journal-repair)",
                 log_path_, report.skipped_records);
  }
  applied_end_ = event_log_->next_sequence();
  return true;
}

void Daemon::Impl::make_reloader() {
  RuleReloader::Hooks hooks;
  const std::string directory = config_.rules;
  hooks.parse = [directory] {
    ParsedRules parsed;
    parsed.fingerprint = rule_directory_fingerprint(directory);
    parsed.loaded = load_rule_directory(directory);
    return parsed;
  };
  hooks.run_on_worker = [this](RuleReloader::Task task) {
    // One parse at a time (RuleReloader waits for the last): the previous thread has finished.
    if (worker_.joinable()) worker_.join();
    worker_ = std::thread(std::move(task));
  };
  hooks.post = [this](RuleReloader::Task task) { net::post(io_, std::move(task)); };
  hooks.start_rebuild = [this](std::shared_ptr<const RuleSet> rules, const std::string& trigger) {
    if (stopping_) return false;
    if (!start_rebuild(std::move(rules), trigger)) {
      metrics_.reload_successful.Set(0);
      return false;
    }
    notify_systemd("RELOADING=1");
    return true;
  };
  hooks.refused = [this](const std::vector<RuleError>& errors, const std::string& trigger) {
    for (const RuleError& error : errors) log_.error("{}", error.to_string());
    metrics_.reload_successful.Set(0);
    log_.error("reload ({}) refused: {} error(s); the old rules stay in force", trigger,
               errors.size());
  };
  hooks.unchanged = [this](const std::string& trigger) {
    metrics_.reload_successful.Set(1);
    metrics_.reload_timestamp.Set(to_seconds(time_.now().time_since_epoch()));
    log_.info("reload ({}): rule files unchanged; nothing to rebuild", trigger);
  };
  reloader_.emplace(std::move(hooks), rule_directory_fingerprint(directory));
}

bool Daemon::Impl::start_rebuild(std::shared_ptr<const RuleSet> rules, std::string trigger) {
  const bool restore = trigger == "start";
  if (!make_snapshotter()) return false;
  StateRebuild::Inputs inputs;
  inputs.identity = rule_set_identity(*rules, config_.dedup_retention, config_.max_shops);
  inputs.rules = std::move(rules);
  inputs.new_host = [this](std::shared_ptr<const RuleSet> for_rules) {
    return new_host(std::move(for_rules));
  };
  inputs.log = event_log_.get();
  inputs.read_options.now = clock_.now();
  inputs.read_options.max_future_skew = config_.max_future_skew;
  inputs.read_options.repair = config_.journal_repair;
  inputs.logger = &log_;
  inputs.metrics = &metrics_;
  storage::LogError read_error;
  // Refused when the log is no longer at its path: never rebuild from another one.
  rebuild_ = restore ? StateRebuild::restore(std::move(inputs), snapshots_->store(), read_error)
                     : StateRebuild::reload(std::move(inputs), read_error);
  if (!rebuild_) {
    log_.error("cannot read the event log {}: {}", log_path_, read_error.message);
    return false;
  }
  rebuild_trigger_ = std::move(trigger);
  rebuild_started_ = time_.steady_now();
  net::post(io_, [this, expected = rebuild_.get()] { rebuild_step(expected); });
  return true;
}

bool Daemon::Impl::make_snapshotter() {
  if (snapshots_) return true;
  SnapshotStore store((std::filesystem::path(config_.data) / "snapshots").string());
  if (const std::error_code error = store.prepare()) {
    log_.error("cannot create the snapshot directory {}: {}", store.directory(), error.message());
    return false;
  }
  SnapshotSchedule schedule;
  schedule.every_events = config_.snapshot_every_events;
  schedule.interval = config_.snapshot_interval;
  schedule.kept = config_.snapshots_kept;
  snapshots_.emplace(std::move(store), schedule, time_, log_, &metrics_);
  return true;
}

void Daemon::Impl::rebuild_step(const StateRebuild* expected) {
  if (stopping_ || rebuild_.get() != expected) return;  // superseded by a newer reload
  // Records appended meanwhile are read too, up to those already applied to the live host:
  // the rest reach the new host through their completions, after the swap, which happens in
  // the same turn as the last read.
  switch (rebuild_->step(kRestoreLinesPerTurn, applied_end_)) {
    case StateRebuild::Progress::kMore:
      net::post(io_, [this, expected] { rebuild_step(expected); });
      return;
    case StateRebuild::Progress::kDone:
      if (rebuild_trigger_ == "start") {
        finish_restore();
      } else {
        finish_reload();
      }
      return;
    case StateRebuild::Progress::kFailed:
      break;
  }
  log_.error("reading the event log failed: {}", rebuild_->error().message);
  if (rebuild_trigger_ == "start") {
    exit_code_ = 1;
    shutdown("event log unreadable");
    return;
  }
  metrics_.reload_successful.Set(0);
  log_.error("reload ({}) abandoned; the old rules stay in force", rebuild_trigger_);
  rebuild_.reset();
  notify_systemd("READY=1");
  reloader_->rebuild_finished(false);
}

void Daemon::Impl::finish_restore() {
  const RebuildReport report = rebuild_->report();
  if (report.damaged_records > 0) {
    log_.warning("skipped {} damaged record(s) of the event log (--journal-repair)",
                 report.damaged_records);
    metrics_.log_skipped.Increment(static_cast<double>(report.damaged_records));
  }
  const double seconds = to_seconds(time_.steady_now() - rebuild_started_);
  set_host(rebuild_->take_host());
  unjournaled_ = rebuild_->take_unlogged();
  identity_ = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  rebuild_.reset();
  snapshots_->restored(applied_end_, report.snapshot_sequence);
  retention_.emplace(LogRetention::horizon_of(*rules_, config_.dedup_retention));
  retention_waits_for_ = report.snapshot_path.empty() ? applied_end_ : 0;
  metrics_.restore_duration.Set(seconds);
  metrics_.restore_records.Set(static_cast<double>(report.records));
  go_live(*host_, nullptr);
  advance_to_now();
  arm_resend_timer();
  arm_fsync_timer();
  arm_snapshot_timer();
  ready_ = true;
  log_.info("restored {} journal record(s){} in {:.3f} s ({} skipped); ready", report.records,
            report.snapshot_path.empty()
                ? std::string()
                : fmt::format(" after the snapshot {} (records before {})", report.snapshot_path,
                              report.snapshot_sequence),
            seconds, report.skipped);
  notify_systemd("READY=1\nSTATUS=ready");
  arm_engine_timer();
}

void Daemon::Impl::finish_reload() {
  std::unique_ptr<EngineHost> rebuilt = rebuild_->take_host();
  const std::shared_ptr<const RuleSet> rules = rebuild_->rules();
  // Unchanged SLAs keep what the old host counted, also what retention took from the log;
  // the duplicates never logged are in the old host's counts too (docs/storage.md, "Reload").
  const std::vector<CarriedSla> carried = unchanged_slas(*rules_, *rules);
  rebuilt->carry_from(*host_, carried);
  rules_ = rules;
  identity_ = rule_set_identity(*rules_, config_.dedup_retention, config_.max_shops);
  retention_->set_horizon(LogRetention::horizon_of(*rules_, config_.dedup_retention));
  retention_waits_for_ = applied_end_;
  reloaded_ = true;
  go_live(*rebuilt, host_.get());
  set_host(std::move(rebuilt));
  advance_to_now();
  metrics_.reload_successful.Set(1);
  metrics_.reload_timestamp.Set(to_seconds(time_.now().time_since_epoch()));
  const RebuildReport report = rebuild_->report();
  log_.info(
      "reloaded {} rule file(s) ({}); {} SLA(s) unchanged kept their state, the others were "
      "derived from {} log record(s) ({} skipped) in {:.3f} s",
      rules_->platforms.size(), rebuild_trigger_, carried.size(), report.records, report.skipped,
      to_seconds(time_.steady_now() - rebuild_started_));
  rebuild_.reset();
  // The snapshots on disk hold the old rules' state: take one of the new at once, so that a
  // restart does not fall back to the log (of which retention may have deleted the start).
  // One being written now holds the old rules' state: the timer starts ours after it.
  without_claims(
      [&] { snapshot_owed_ = !snapshots_->start(*host_, identity_, unjournaled_, applied_end_); });
  notify_systemd("READY=1");
  arm_engine_timer();
  reloader_->rebuild_finished(true);
}

// Reaps a finished snapshot and starts the next one when it is due. A snapshot covers the
// records applied to the host (applied_end_); those still being written reach it later and are
// read from the log after the snapshot on a restart.
void Daemon::Impl::arm_snapshot_timer() {
  if (stopping_ || !snapshots_) return;
  snapshot_timer_.expires_after(std::chrono::seconds(1));
  snapshot_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    try {
      snapshots_->poll();
      if (host_ && !rebuild_ && snapshot_owed_) {
        without_claims([&] {
          snapshot_owed_ = !snapshots_->start(*host_, identity_, unjournaled_, applied_end_);
        });
      } else if (host_ && !rebuild_) {
        without_claims(
            [&] { snapshots_->maybe_start(*host_, identity_, unjournaled_, applied_end_); });
      }
      retain_log();
    } catch (const std::exception& failure) {
      log_.error("internal error while taking a snapshot: {}", failure.what());
    }
    arm_snapshot_timer();
  });
}

// Deletes the log's segments that neither a reload nor a restart can need any more
// (docs/storage.md, "Retention"). Never while a rebuild reads the log: it may be on them.
void Daemon::Impl::retain_log() {
  if (!host_ || rebuild_ || !retention_) return;
  const Instant watermark = host_->engine().watermark();
  retention_->note(applied_end_, watermark);
  const storage::Sequence by_time = retention_->first_needed(watermark, applied_end_);
  if (by_time <= event_log_->first_sequence()) return;
  std::error_code error;
  const std::vector<SnapshotFile> kept = snapshots_->store().list(error);
  if (error || kept.empty()) return;
  storage::Sequence oldest = kept.front().sequence;
  storage::Sequence newest = kept.front().sequence;
  for (const SnapshotFile& file : kept) {
    oldest = std::min(oldest, file.sequence);
    newest = std::max(newest, file.sequence);
  }
  if (newest < retention_waits_for_) return;
  const storage::Sequence first = retention_->first_needed(watermark, oldest);
  if (first > event_log_->first_sequence()) event_log_->retain_from(first);
}

void Daemon::Impl::reload(std::string trigger, std::function<void(ReloadOutcome)> done) {
  if (!ready_ || stopping_) {
    ReloadOutcome outcome;
    outcome.errors.emplace_back(stopping_ ? "shutting down" : "still restoring state");
    log_.warning("reload ({}) refused: {}", trigger, outcome.errors.back());
    return done(outcome);
  }
  if (stream_) {
    ReloadOutcome outcome;
    outcome.errors.emplace_back(
        "reloading rules with log.kind jetstream is not supported by this build; restart the "
        "daemon");
    log_.warning("reload ({}) refused: {}", trigger, outcome.errors.back());
    return done(outcome);
  }
  log_.info("reloading rules from {} ({})", config_.rules, trigger);
  reloader_->request(std::move(trigger), std::move(done));
}

}  // namespace replywatch::server

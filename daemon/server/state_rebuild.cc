#include "state_rebuild.h"

namespace replywatch::server {
namespace {

constexpr int kCorruptRecordsLogged = 10;

}  // namespace

std::unique_ptr<StateRebuild> StateRebuild::restore(Inputs inputs, const SnapshotStore& snapshots,
                                                    storage::LogError& error) {
  std::unique_ptr<StateRebuild> rebuild(new StateRebuild(std::move(inputs)));
  rebuild->load_newest_snapshot(snapshots);
  if (!rebuild->open_reader(error)) return nullptr;
  return rebuild;
}

std::unique_ptr<StateRebuild> StateRebuild::reload(Inputs inputs, storage::LogError& error) {
  std::unique_ptr<StateRebuild> rebuild(new StateRebuild(std::move(inputs)));
  rebuild->host_ = rebuild->inputs_.new_host(rebuild->inputs_.rules);
  rebuild->next_sequence_ = rebuild->inputs_.log->first_sequence();
  if (!rebuild->open_reader(error)) return nullptr;
  return rebuild;
}

StateRebuild::SnapshotChoice StateRebuild::newest_snapshot(const Inputs& inputs,
                                                           const SnapshotStore& snapshots,
                                                           storage::Sequence first,
                                                           storage::Sequence next,
                                                           RebuildReport& report) {
  const Logger& log = *inputs.logger;
  std::error_code list_error;
  const std::vector<SnapshotFile> files = snapshots.list(list_error);
  if (list_error) {
    log.warning("cannot list the snapshots in {}: {}; restoring from the log alone",
                snapshots.directory(), list_error.message());
  }
  SnapshotChoice choice;
  for (const SnapshotFile& file : files) {
    auto refused = [&](const std::string& why) {
      ++report.snapshots_refused;
      if (inputs.metrics != nullptr) inputs.metrics->snapshot_load_failures.Increment();
      log.warning("snapshot {} not used: {}; trying an older one, else the log alone", file.path,
                  why);
    };
    std::string problem;
    const std::unique_ptr<LoadedSnapshot> loaded = snapshots.read(file, problem);
    if (!loaded) {
      refused(problem);
      continue;
    }
    if (loaded->sequence() < first || loaded->sequence() > next) {
      refused(fmt::format("it covers the log up to record {}, but the log holds records {} to {}",
                          loaded->sequence(), first, next - 1));
      continue;
    }
    auto host = inputs.new_host(inputs.rules);
    UnloggedCounts unlogged;
    try {
      SnapshotReader in(loaded->payload());
      if (load_state(in, *host, inputs.identity, unlogged) == StateLoad::kOtherRules) {
        log.info("snapshot {} was taken under other rules or settings; not used", file.path);
        continue;
      }
    } catch (const SnapshotError& damage) {
      refused(damage.what());
      continue;
    }
    choice.host = std::move(host);
    choice.unlogged = std::move(unlogged);
    choice.sequence = loaded->sequence();
    choice.path = file.path;
    return choice;
  }
  return choice;
}

void StateRebuild::load_newest_snapshot(const SnapshotStore& snapshots) {
  const storage::EventLog& event_log = *inputs_.log;
  SnapshotChoice choice = newest_snapshot(inputs_, snapshots, event_log.first_sequence(),
                                          event_log.next_sequence(), report_);
  if (!choice.host) {
    host_ = inputs_.new_host(inputs_.rules);
    next_sequence_ = event_log.first_sequence();
    return;
  }
  host_ = std::move(choice.host);
  unlogged_ = std::move(choice.unlogged);
  next_sequence_ = choice.sequence;
  report_.snapshot_path = choice.path;
  report_.snapshot_sequence = choice.sequence;
}

bool StateRebuild::open_reader(storage::LogError& error) {
  reader_ = inputs_.log->read_from(next_sequence_, inputs_.read_options, error);
  return reader_ != nullptr && !error;
}

StateRebuild::Progress StateRebuild::step(std::size_t max_records, storage::Sequence end) {
  if (error_) return Progress::kFailed;
  batch_.clear();
  const bool more = reader_->read(max_records, end, batch_, error_);
  for (storage::LoggedRecord& logged : batch_) {
    const JournalLineResult result = host_->replay_record(logged.record);
    if (result == JournalLineResult::kCorrupt) {
      if (++corrupt_logged_ <= kCorruptRecordsLogged) {
        inputs_.logger->warning("event log record {} has an impossible watermark; skipped",
                                logged.sequence);
      }
    }
    if (result == JournalLineResult::kCorrupt || result == JournalLineResult::kUnknownPlatform ||
        result == JournalLineResult::kShopRefused) {
      ++report_.skipped;
    }
    ++report_.records;
    next_sequence_ = logged.sequence + 1;
  }
  report_.damaged_records = reader_->skipped_records();
  if (error_) return Progress::kFailed;
  return more ? Progress::kMore : Progress::kDone;
}

}  // namespace replywatch::server

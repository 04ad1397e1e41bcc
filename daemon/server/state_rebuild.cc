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

void StateRebuild::load_newest_snapshot(const SnapshotStore& snapshots) {
  const Logger& log = *inputs_.logger;
  const storage::EventLog& event_log = *inputs_.log;
  std::error_code list_error;
  const std::vector<SnapshotFile> files = snapshots.list(list_error);
  if (list_error) {
    log.warning("cannot list the snapshots in {}: {}; restoring from the log alone",
                snapshots.directory(), list_error.message());
  }
  for (const SnapshotFile& file : files) {
    auto refused = [&](const std::string& why) {
      ++report_.snapshots_refused;
      if (inputs_.metrics != nullptr) inputs_.metrics->snapshot_load_failures.Increment();
      log.warning("snapshot {} not used: {}; trying an older one, else the log alone", file.path,
                  why);
    };
    std::string problem;
    const std::unique_ptr<LoadedSnapshot> loaded = snapshots.read(file, problem);
    if (!loaded) {
      refused(problem);
      continue;
    }
    if (loaded->sequence() < event_log.first_sequence() ||
        loaded->sequence() > event_log.next_sequence()) {
      refused(fmt::format("it covers the log up to record {}, but the log holds records {} to {}",
                          loaded->sequence(), event_log.first_sequence(),
                          event_log.next_sequence() - 1));
      continue;
    }
    auto host = inputs_.new_host(inputs_.rules);
    UnloggedCounts unlogged;
    try {
      SnapshotReader in(loaded->payload());
      if (load_state(in, *host, inputs_.identity, unlogged) == StateLoad::kOtherRules) {
        log.info("snapshot {} was taken under other rules or settings; not used", file.path);
        continue;
      }
    } catch (const SnapshotError& damage) {
      refused(damage.what());
      continue;
    }
    host_ = std::move(host);
    unlogged_ = std::move(unlogged);
    next_sequence_ = loaded->sequence();
    report_.snapshot_path = file.path;
    report_.snapshot_sequence = loaded->sequence();
    return;
  }
  host_ = inputs_.new_host(inputs_.rules);
  next_sequence_ = event_log.first_sequence();
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

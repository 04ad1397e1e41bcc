// Builds a host from what is on disk, a bounded number of log records per step, with no event
// loop of its own: the daemon calls step() once per turn of its loop, tests call it in a loop.
//
// Restore (start): the newest usable snapshot, then the log records after it. A snapshot that
// cannot be read, fails its checksums or does not decode is logged, counted and passed over for
// the next older one, then for the log alone; one taken under other rules or settings is passed
// over without counting (it is not damage). A snapshot is usable only when the log still holds
// every record after it and no record it claims is missing from the log.
//
// Reload: a fresh host under the new rules, fed the whole retained log; records applied to the
// live host while it runs are read too (the caller passes that end at each step).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon_metrics.h"
#include "engine_host.h"
#include "event_log.h"
#include "log.h"
#include "replywatch/rule_fingerprint.h"
#include "snapshot_store.h"
#include "state_snapshot.h"

namespace replywatch::server {

struct RebuildReport {
  std::string snapshot_path;  // empty: from the log alone
  storage::Sequence snapshot_sequence = 0;
  std::uint64_t records = 0;  // log records read
  // Of a platform no longer loaded, of a shop no longer admitted, or with an impossible
  // watermark.
  std::uint64_t skipped = 0;
  std::uint64_t snapshots_refused = 0;  // damaged or unreadable ones passed over
  std::uint64_t damaged_records = 0;    // skipped by the log's reader (repair)
};

class StateRebuild {
 public:
  struct Inputs {
    std::shared_ptr<const RuleSet> rules;
    RuleSetIdentity identity;  // of `rules` and the daemon's settings
    std::function<std::unique_ptr<EngineHost>(std::shared_ptr<const RuleSet>)> new_host;
    const storage::EventLog* log = nullptr;
    storage::ReadOptions read_options;
    const Logger* logger = nullptr;
    DaemonMetrics* metrics = nullptr;  // snapshot load failures; may be null
  };

  struct SnapshotChoice {
    std::unique_ptr<EngineHost> host;  // null: no snapshot usable
    UnloggedCounts unlogged;
    storage::Sequence sequence = 0;  // records (stream messages) before it are in the host
    std::string path;
  };
  // The newest snapshot taken under `inputs`' identity whose sequence lies in [first, next]:
  // the records after it must still be there. Damaged ones are logged, counted and passed over.
  static SnapshotChoice newest_snapshot(const Inputs& inputs, const SnapshotStore& snapshots,
                                        storage::Sequence first, storage::Sequence next,
                                        RebuildReport& report);

  // Null with `error` set when the log cannot be read.
  static std::unique_ptr<StateRebuild> restore(Inputs inputs, const SnapshotStore& snapshots,
                                               storage::LogError& error);
  static std::unique_ptr<StateRebuild> reload(Inputs inputs, storage::LogError& error);

  enum class Progress { kMore, kDone, kFailed };
  // Applies up to `max_records` log records below `end`. The end may move on between steps:
  // a reload reads what the live host applied meanwhile.
  Progress step(std::size_t max_records, storage::Sequence end);

  const storage::LogError& error() const { return error_; }
  const RebuildReport& report() const { return report_; }
  const std::shared_ptr<const RuleSet>& rules() const { return inputs_.rules; }
  // One past the last record applied: what a snapshot of the result covers.
  storage::Sequence next_sequence() const { return next_sequence_; }

  // Once done.
  std::unique_ptr<EngineHost> take_host() { return std::move(host_); }
  // What the snapshot carried of the counts the log cannot reproduce (empty without one).
  UnloggedCounts take_unlogged() { return std::move(unlogged_); }

 private:
  explicit StateRebuild(Inputs inputs) : inputs_(std::move(inputs)) {}
  // Tries the snapshots newest first; leaves host_ fresh and next_sequence_ at the log's start
  // when none is usable.
  void load_newest_snapshot(const SnapshotStore& snapshots);
  bool open_reader(storage::LogError& error);

  Inputs inputs_;
  std::unique_ptr<EngineHost> host_;
  std::unique_ptr<storage::EventLogReader> reader_;
  storage::Sequence next_sequence_ = 0;
  UnloggedCounts unlogged_;
  RebuildReport report_;
  storage::LogError error_;
  std::vector<storage::LoggedRecord> batch_;
  int corrupt_logged_ = 0;
};

}  // namespace replywatch::server

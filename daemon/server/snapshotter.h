// When to take a snapshot, and taking it: one at a time, in a forked child (ForkedSnapshot), at
// most every `every_events` logged events or every `interval` with at least one. The daemon calls
// maybe_start() after it applies events and poll() from a timer; both return at once.
#pragma once

#include <cstdint>
#include <string>

#include "daemon_metrics.h"
#include "engine_host.h"
#include "forked_snapshot.h"
#include "log.h"
#include "replywatch/rule_fingerprint.h"
#include "snapshot_store.h"
#include "state_snapshot.h"
#include "time_source.h"

namespace replywatch::server {

struct SnapshotSchedule {
  std::uint64_t every_events = 1'000'000;  // 0: not by count
  Duration interval = std::chrono::minutes(10);
  std::uint32_t kept = 2;
};

class Snapshotter {
 public:
  Snapshotter(SnapshotStore store, SnapshotSchedule schedule, const TimeSource& time,
              const Logger& log, DaemonMetrics* metrics);
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;
  // Waits for a child still writing.
  ~Snapshotter() = default;

  // The restored state covers the records before `sequence` (taken from a snapshot at
  // `snapshot_sequence`, 0 for none): counting starts there.
  void restored(std::uint64_t sequence, std::uint64_t snapshot_sequence);

  // Whether one is due for a state covering the records before `sequence`.
  bool due(std::uint64_t sequence) const;
  // Starts a snapshot if one is due and none is being written. Returns whether it started.
  bool maybe_start(const EngineHost& host, const RuleSetIdentity& identity,
                   const UnloggedCounts& unlogged, std::uint64_t sequence);
  // Starts one now, due or not (unless one is being written): after a reload, whose state the
  // snapshots on disk do not hold.
  bool start(const EngineHost& host, const RuleSetIdentity& identity,
             const UnloggedCounts& unlogged, std::uint64_t sequence);

  // Reaps a finished child: counts it, logs failures, prunes old snapshots. Returns whether one
  // finished.
  bool poll();
  // Blocks until a running child has finished.
  void wait();
  // Ends a running child at once (shutdown); the snapshots before it stay.
  void cancel() { child_.cancel(); }
  bool running() const { return child_.running(); }

  // The sequence the newest finished snapshot covers (0: none).
  std::uint64_t newest_sequence() const { return newest_sequence_; }
  const SnapshotStore& store() const { return store_; }

 private:
  void finished(std::error_code error);

  SnapshotStore store_;
  SnapshotSchedule schedule_;
  const TimeSource& time_;
  const Logger& log_;
  DaemonMetrics* metrics_;
  ForkedSnapshot child_;
  std::uint64_t newest_sequence_ = 0;  // finished
  std::uint64_t last_started_ = 0;     // sequence of the last started (or restored) state
  SteadyInstant last_started_at_{};
  std::uint64_t writing_sequence_ = 0;
  SteadyInstant writing_since_{};
};

}  // namespace replywatch::server

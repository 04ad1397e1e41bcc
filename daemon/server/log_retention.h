// Which records of the event log may be deleted (docs/storage.md, "Retention"). No I/O and no
// clock: the daemon tells it, now and then, how far the log is applied and where the engine's
// watermark stood, and asks where the log must start.
//
// A record is needed while a reload may have to re-derive a changed SLA from it, that is while
// its recorded watermark is within `horizon` (the longest window of the loaded rules plus the
// dedup retention) of the engine's watermark, and while a restart may have to read it, that is
// from the oldest snapshot kept on. The log's own records carry their watermarks, but reading
// them back to find a cut would be I/O on the event loop; instead the daemon notes (applied end,
// watermark) pairs as it goes: every record before a noted end was recorded at or before the
// noted watermark. After a restart nothing older than the restart is known, so retention waits
// one horizon before cutting what came before it.
#pragma once

#include <deque>
#include <optional>

#include "event_log.h"
#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace replywatch::server {

class LogRetention {
 public:
  // The longest window of `rules` plus `dedup_retention`.
  static Duration horizon_of(const RuleSet& rules, Duration dedup_retention);

  explicit LogRetention(Duration horizon) : horizon_(horizon) {}
  // After a reload: the new rules' horizon.
  void set_horizon(Duration horizon) { horizon_ = horizon; }
  Duration horizon() const { return horizon_; }

  // Records before `applied_end` were applied to an engine whose watermark is now `watermark`.
  void note(storage::Sequence applied_end, Instant watermark);

  // Where the log must start at `watermark`, when the oldest kept snapshot covers the records
  // before `snapshot_covers` (none kept: nothing may go). Zero when nothing may go yet.
  storage::Sequence first_needed(Instant watermark,
                                 std::optional<storage::Sequence> snapshot_covers) const;

 private:
  struct Mark {
    storage::Sequence end = 0;
    Instant watermark{};
  };
  Duration horizon_;
  std::deque<Mark> marks_;  // ends and watermarks both ascending
};

}  // namespace replywatch::server

#include "log_retention.h"

#include <algorithm>

namespace replywatch::server {
namespace {

// Marks are kept about this many per horizon: retention then cuts within 1/64 of the horizon
// of the exact point, with a few dozen marks in memory whatever the traffic.
constexpr std::int64_t kMarksPerHorizon = 64;

}  // namespace

Duration LogRetention::horizon_of(const RuleSet& rules, Duration dedup_retention) {
  Duration longest{0};
  for (const PlatformRules& platform : rules.platforms) {
    for (const Sla& sla : platform.slas) {
      if (sla.kind != SlaKind::kAgentPresence) longest = std::max(longest, sla.window);
    }
  }
  return longest + dedup_retention;
}

void LogRetention::note(storage::Sequence applied_end, Instant watermark) {
  if (!marks_.empty()) {
    const Mark& last = marks_.back();
    if (applied_end <= last.end || watermark < last.watermark) return;
    // Closer than the spacing to the mark before the last: move the last one forward instead
    // of adding one (each mark stays a true statement, just a later one).
    const Duration spacing = std::max(Duration(1), horizon_ / kMarksPerHorizon);
    if (marks_.size() > 1 && watermark - marks_[marks_.size() - 2].watermark < spacing) {
      marks_.back() = Mark{applied_end, watermark};
      return;
    }
  }
  marks_.push_back(Mark{applied_end, watermark});
  // Only the newest mark past the horizon is ever used; older ones go.
  const Instant cut = watermark - horizon_;
  while (marks_.size() > 1 && marks_[1].watermark <= cut) marks_.pop_front();
}

storage::Sequence LogRetention::first_needed(
    Instant watermark, std::optional<storage::Sequence> snapshot_covers) const {
  if (!snapshot_covers) return 0;
  const Instant cut = watermark - horizon_;
  storage::Sequence end = 0;
  for (const Mark& mark : marks_) {
    if (mark.watermark > cut) break;
    end = mark.end;
  }
  return std::min(end, *snapshot_covers);
}

}  // namespace replywatch::server

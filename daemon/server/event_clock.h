// The daemon's event-time "now", guarded against steps of the wall clock (docs/behaviour.md, "Clock
// steps": a brief step must not decide rounds; a lasting correction is followed).
//
// Time runs on the monotonic clock from the last instant at which the wall clock was believed.
// While the wall clock agrees with that (within kClockTolerance) it is followed, so NTP's slow
// slewing is tracked. When it disagrees by more, the clock is *suspect*: event time keeps
// running on elapsed time, and only a disagreement that has stayed the same for `confirm_after`
// is believed (a correction: the wall clock is followed again from then on). A step that is
// undone before then never shows.
#pragma once

#include <optional>

#include "replywatch/time.h"
#include "time_source.h"

namespace replywatch::server {

// How long a wall-clock step must last before it is followed.
inline constexpr Duration kClockStepConfirm = std::chrono::seconds(60);
// Disagreement below this is drift, followed at once.
inline constexpr Duration kClockTolerance = std::chrono::milliseconds(500);

class EventClock {
 public:
  explicit EventClock(const TimeSource& time, Duration confirm_after = kClockStepConfirm);

  // Event-time now; see above. Not const: each reading may settle or raise a suspicion.
  Instant now();
  // Whether the last reading found the wall clock disagreeing and not yet believed.
  bool suspect() const { return suspect_since_.has_value(); }
  // Wall clock minus event time at the last reading.
  Duration disagreement() const { return disagreement_; }

 private:
  const TimeSource& time_;
  Duration confirm_after_;
  Instant anchor_wall_;
  SteadyInstant anchor_steady_;
  std::optional<SteadyInstant> suspect_since_;
  Duration disagreement_{0};
};

}  // namespace replywatch::server

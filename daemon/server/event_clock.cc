#include "event_clock.h"

namespace replywatch::server {
namespace {

Duration magnitude(Duration d) { return d < Duration::zero() ? -d : d; }

}  // namespace

EventClock::EventClock(const TimeSource& time, Duration confirm_after)
    : time_(time),
      confirm_after_(confirm_after),
      anchor_wall_(time.now()),
      anchor_steady_(time.steady_now()) {}

Instant EventClock::now() {
  const Instant wall = time_.now();
  const SteadyInstant steady = time_.steady_now();
  const Instant elapsed_based = anchor_wall_ + (steady - anchor_steady_);
  const Duration offset = wall - elapsed_based;
  if (magnitude(offset) <= kClockTolerance) {
    anchor_wall_ = wall;
    anchor_steady_ = steady;
    suspect_since_.reset();
    disagreement_ = Duration::zero();
    return wall;
  }
  // A new disagreement, or a different one (the clock stepped again): the wait starts over.
  if (!suspect_since_ || magnitude(offset - disagreement_) > kClockTolerance) {
    suspect_since_ = steady;
  }
  disagreement_ = offset;
  if (steady - *suspect_since_ >= confirm_after_) {
    anchor_wall_ = wall;
    anchor_steady_ = steady;
    suspect_since_.reset();
    disagreement_ = Duration::zero();
    return wall;
  }
  return elapsed_based;
}

}  // namespace replywatch::server

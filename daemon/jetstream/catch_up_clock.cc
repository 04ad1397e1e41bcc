#include "catch_up_clock.h"

#include <algorithm>

namespace replywatch::jetstream {

CatchUpClock::CatchUpClock(std::vector<std::uint32_t> partitions, Duration lateness)
    : partitions_(std::move(partitions)), lateness_(lateness) {
  for (const std::uint32_t partition : partitions_) states_.push_back({partition, 0});
}

void CatchUpClock::started(std::uint64_t position, std::uint64_t stream_last) {
  started_ = true;
  position_ = position;
  pending_ = stream_last >= position ? stream_last - position + 1 : 0;
}

void CatchUpClock::applied(std::uint64_t sequence, Instant watermark, std::uint64_t pending) {
  position_ = std::max(position_, sequence + 1);
  pending_ = pending;
  // Ingest nodes' clocks differ a little: the event-time watermark follows the latest message
  // without going back, as the engine would not either.
  if (!event_time_ || watermark > *event_time_) event_time_ = watermark;
}

void CatchUpClock::partition_last(std::uint32_t partition, std::uint64_t last_sequence) {
  for (PartitionState& state : states_) {
    if (state.partition == partition) state.last_sequence = last_sequence;
  }
}

const CatchUpClock::PartitionState* CatchUpClock::find(std::uint32_t partition) const {
  for (const PartitionState& state : states_) {
    if (state.partition == partition) return &state;
  }
  return nullptr;
}

bool CatchUpClock::caught_up(std::uint32_t partition) const {
  if (caught_up()) return true;
  const PartitionState* state = find(partition);
  return state != nullptr && connected_ && started_ && state->last_sequence < position_;
}

std::uint64_t CatchUpClock::lag(std::uint32_t partition) const {
  if (caught_up(partition)) return 0;
  const PartitionState* state = find(partition);
  if (state == nullptr) return 0;
  return state->last_sequence - position_ + 1;
}

std::optional<Instant> CatchUpClock::watermark(Instant now) {
  std::optional<Instant> target;
  if (caught_up()) {
    target = now - lateness_;
  } else if (event_time_) {
    // Behind: event time, but never past what the wall clock allows (a message stamped by a
    // node whose clock runs ahead must not make this one fire deadlines early).
    target = std::min(*event_time_, now - lateness_);
  }
  if (!target) return given_;
  if (!given_ || *target > *given_) given_ = target;
  return given_;
}

}  // namespace replywatch::jetstream

// The rounds one (shop, SLA) scores and has not decided, oldest first, so that the oldest open
// round's start is read in O(1) when figures are taken, instead of by a pass over every
// conversation (which held the event loop during a /metrics scrape).
//
// Rounds open in event-time order, except those a late event opens: the in-order ones go to a
// FIFO, the few late ones to a min-heap. Entries are never removed from the middle: an entry
// whose round was decided (or whose slot now holds another round) is stale, and stale entries
// are dropped when they reach a front. The owner calls prune() after each decision, so both
// fronts are always live and oldest() needs no pass. An in-order entry is 8 bytes; its start is
// read from the round itself.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "replywatch/time.h"

namespace replywatch {

class PendingRoundQueue {
 public:
  // A round by its conversation slot and its tag (the owner's round generation and view).
  struct Round {
    std::uint32_t conversation = 0;
    std::uint32_t tag = 0;
  };

  // Adds a round that became pending at `start`.
  void push(Round round, Instant start) {
    if (!fifo_ || fifo_->empty() || start >= last_start_) {
      if (!fifo_) fifo_ = std::make_unique<std::deque<Round>>();
      fifo_->push_back(round);
      last_start_ = start;
      return;
    }
    late_.push_back(LateRound{start, round});
    std::push_heap(late_.begin(), late_.end(), starts_after);
  }

  // Drops stale entries off both fronts. `start_of(round)` gives the round's start if it is still
  // pending, std::nullopt if not.
  template <typename StartOf>
  void prune(StartOf start_of) {
    if (fifo_) {
      while (!fifo_->empty() && !start_of(fifo_->front())) fifo_->pop_front();
      // A drained FIFO gives its blocks back: most shops are idle most of the time.
      if (fifo_->empty()) fifo_.reset();
    }
    while (!late_.empty() && !start_of(late_.front().round)) {
      std::pop_heap(late_.begin(), late_.end(), starts_after);
      late_.pop_back();
    }
    if (late_.empty()) std::vector<LateRound>().swap(late_);
  }

  // Drops every stale entry, wherever it is. The owner calls it when the queue holds many more
  // entries than pending rounds: answered rounds pile up behind an old one whose deadline never
  // comes (business time with no opening ahead), and this keeps memory within twice the live.
  template <typename StartOf>
  void compact(StartOf start_of) {
    if (fifo_) {
      std::deque<Round> kept;
      for (const Round& round : *fifo_) {
        if (start_of(round)) kept.push_back(round);
      }
      *fifo_ = std::move(kept);
    }
    std::vector<LateRound> kept_late;
    for (const LateRound& late : late_) {
      if (start_of(late.round)) kept_late.push_back(late);
    }
    std::make_heap(kept_late.begin(), kept_late.end(), starts_after);
    late_ = std::move(kept_late);
    prune(start_of);
  }

  // The oldest pending start; valid when the fronts are live (after prune()).
  template <typename StartOf>
  std::optional<Instant> oldest(StartOf start_of) const {
    std::optional<Instant> oldest;
    if (fifo_ && !fifo_->empty()) oldest = start_of(fifo_->front());
    if (!late_.empty() && (!oldest || late_.front().start < *oldest)) {
      oldest = late_.front().start;
    }
    return oldest;
  }

  // Entries held, stale ones not yet dropped included.
  std::size_t size() const { return (fifo_ ? fifo_->size() : 0) + late_.size(); }

  void clear() {
    fifo_.reset();
    std::vector<LateRound>().swap(late_);
  }

 private:
  struct LateRound {
    Instant start;
    Round round;
  };
  static bool starts_after(const LateRound& a, const LateRound& b) { return a.start > b.start; }

  std::unique_ptr<std::deque<Round>> fifo_;  // absent while empty: an empty deque holds ~600 B
  Instant last_start_{};                     // of the FIFO's newest entry
  std::vector<LateRound> late_;              // min-heap on start
};

}  // namespace replywatch

#include "timer_queue.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

using replywatch::Duration;
using replywatch::Instant;
using replywatch::kInstantMax;
using replywatch::TimerEntry;
using replywatch::TimerKind;
using replywatch::TimerQueue;

namespace {

Instant at(std::int64_t ms) { return Instant(Duration(ms)); }

}  // namespace

TEST_CASE("timer_queue: entries carry their kind, target, lane and generation", "[timer_queue]") {
  const TimerEntry round = TimerEntry::round_stage(at(5), 123456, 1, 0xABCDEF);
  CHECK(round.kind == TimerKind::kRoundStage);
  CHECK(round.target == 123456);
  CHECK(round.lane == 1);
  CHECK(round.generation == 0xABCDEF);

  const TimerEntry grace = TimerEntry::grace_end(at(7), 9, 31, 42);
  CHECK(grace.kind == TimerKind::kGraceEnd);
  CHECK(grace.target == 9);
  CHECK(grace.lane == 31);
  CHECK(grace.generation == 42);

  const TimerEntry boundary = TimerEntry::hours_boundary(at(9), 3);
  CHECK(boundary.kind == TimerKind::kHoursBoundary);
  CHECK(boundary.target == 3);

  // A generation wider than the field wraps, as the engine's counters do.
  CHECK(TimerEntry::round_stage(at(1), 0, 0, TimerEntry::kGenerationMask + 5).generation == 4);
}

TEST_CASE("timer_queue: pops by instant, then hours boundary, round stage, grace end",
          "[timer_queue]") {
  TimerQueue queue;
  queue.push(TimerEntry::grace_end(at(10), 1, 0, 1));
  queue.push(TimerEntry::round_stage(at(10), 2, 0, 1));
  queue.push(TimerEntry::hours_boundary(at(10), 3));
  queue.push(TimerEntry::round_stage(at(4), 4, 0, 1));
  REQUIRE(queue.size() == 4);
  CHECK(queue.front().target == 4);
  CHECK(queue.pop().target == 4);
  CHECK(queue.pop().kind == TimerKind::kHoursBoundary);
  CHECK(queue.pop().kind == TimerKind::kRoundStage);
  CHECK(queue.pop().kind == TimerKind::kGraceEnd);
  CHECK(queue.empty());
}

TEST_CASE("timer_queue: an instant that never comes is not kept", "[timer_queue]") {
  TimerQueue queue;
  queue.push(TimerEntry::round_stage(kInstantMax, 1, 0, 1));
  CHECK(queue.empty());
}

TEST_CASE("timer_queue: random instants come out sorted", "[timer_queue]") {
  std::mt19937_64 random(7);
  TimerQueue queue;
  for (int i = 0; i < 2000; ++i) {
    queue.push(TimerEntry::round_stage(at(static_cast<std::int64_t>(random() % 500)),
                                       static_cast<std::uint32_t>(i), 0, 1));
  }
  Instant previous = at(-1);
  while (!queue.empty()) {
    const TimerEntry entry = queue.pop();
    REQUIRE(entry.due >= previous);
    previous = entry.due;
  }
}

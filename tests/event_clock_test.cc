// EventClock: wall-clock steps against elapsed time, with a fake TimeSource (no sleeping).
#include "event_clock.h"

#include <catch2/catch.hpp>

using replywatch::Duration;
using replywatch::Instant;
using replywatch::server::EventClock;
using replywatch::server::kClockStepConfirm;
using replywatch::server::SteadyInstant;
using replywatch::server::TimeSource;
using namespace std::chrono_literals;

namespace {

// 2026-11-22T15:00:00Z.
const Instant kStart = Instant(Duration(1795359600000));

// Both clocks move together through `pass`; `step` moves the wall clock alone.
class FakeTime final : public TimeSource {
 public:
  Instant now() const override { return wall; }
  SteadyInstant steady_now() const override { return steady; }
  void pass(Duration d) {
    wall += d;
    steady += d;
  }
  void step(Duration d) { wall += d; }

  Instant wall = kStart;
  SteadyInstant steady = SteadyInstant(Duration(5'000));
};

constexpr Duration kTenYears = std::chrono::hours(24 * 3653);

}  // namespace

TEST_CASE("event clock: follows the wall clock while it agrees with elapsed time", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  CHECK(clock.now() == kStart);
  time.pass(1500ms);
  CHECK(clock.now() == kStart + 1500ms);
  // NTP slewing: small differences are followed at once.
  time.step(200ms);
  CHECK(clock.now() == kStart + 1700ms);
  CHECK_FALSE(clock.suspect());
}

TEST_CASE("event clock: a brief forward step of ten years never shows", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  clock.now();
  time.step(kTenYears);
  time.pass(200ms);
  // Before: event time was the wall clock, 2036, and every open round was breached.
  CHECK(clock.now() == kStart + 200ms);
  CHECK(clock.suspect());
  time.step(-kTenYears);
  time.pass(100ms);
  CHECK(clock.now() == kStart + 300ms);
  CHECK_FALSE(clock.suspect());
}

TEST_CASE("event clock: never runs ahead of elapsed time during a step", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  clock.now();
  time.step(std::chrono::hours(1));
  for (int i = 1; i <= 59; ++i) {
    time.pass(1s);
    CHECK(clock.now() == kStart + std::chrono::seconds(i));
  }
}

TEST_CASE("event clock: a lasting correction is followed after kClockStepConfirm", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  clock.now();
  time.step(std::chrono::hours(1));
  clock.now();
  time.pass(kClockStepConfirm - 1ms);
  CHECK(clock.now() == kStart + kClockStepConfirm - 1ms);
  CHECK(clock.suspect());
  time.pass(1ms);
  CHECK(clock.now() == kStart + std::chrono::hours(1) + kClockStepConfirm);
  CHECK_FALSE(clock.suspect());
  time.pass(1s);
  CHECK(clock.now() == kStart + std::chrono::hours(1) + kClockStepConfirm + 1s);
}

TEST_CASE("event clock: a backward step is suspect, then followed", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  clock.now();
  time.step(-10min);
  time.pass(1s);
  CHECK(clock.now() == kStart + 1s);
  CHECK(clock.suspect());
  CHECK(clock.disagreement() == -10min);
  time.pass(kClockStepConfirm);
  CHECK(clock.now() == kStart - 10min + 1s + kClockStepConfirm);
  CHECK_FALSE(clock.suspect());
}

TEST_CASE("event clock: a second step restarts the wait", "[clock]") {
  FakeTime time;
  EventClock clock(time);
  clock.now();
  time.step(1h);
  clock.now();
  time.pass(kClockStepConfirm / 2);
  time.step(1h);
  CHECK(clock.now() == kStart + kClockStepConfirm / 2);
  time.pass(kClockStepConfirm / 2 + 1s);
  CHECK(clock.now() == kStart + kClockStepConfirm + 1s);  // not yet: the new step is younger
  CHECK(clock.suspect());
  time.pass(kClockStepConfirm / 2);
  CHECK(clock.now() == time.wall);
}

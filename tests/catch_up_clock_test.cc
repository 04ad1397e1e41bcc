// CatchUpClock: the watermark of a stream-fed engine and per-partition catch-up. Time is data.
#include "catch_up_clock.h"

#include <catch2/catch.hpp>

using replywatch::Duration;
using replywatch::Instant;
using replywatch::jetstream::CatchUpClock;

namespace {

Instant at(std::int64_t seconds) { return Instant(Duration(seconds * 1000)); }
constexpr Duration kLateness = std::chrono::seconds(2);

}  // namespace

TEST_CASE("catch_up_clock: a current consumer runs on the wall clock", "[catch_up_clock]") {
  CatchUpClock clock({0, 1}, kLateness);
  clock.started(1, 0);  // an empty stream: nothing pending
  CHECK(clock.caught_up());
  CHECK(clock.caught_up(0));
  CHECK(clock.watermark(at(100)) == at(98));
  clock.applied(1, at(97), 0);
  CHECK(clock.watermark(at(101)) == at(99));
  CHECK(clock.lag(0) == 0);
}

TEST_CASE("catch_up_clock: a backlog is applied in event time, then the wall clock takes over",
          "[catch_up_clock]") {
  CatchUpClock clock({3}, kLateness);
  // Restarted at sequence 101 with messages up to 400 stored: 300 pending.
  clock.started(101, 400);
  CHECK_FALSE(clock.caught_up());
  CHECK(clock.pending() == 300);
  // Nothing applied yet: nothing to advance to (the restored engine stands where it stood).
  CHECK_FALSE(clock.watermark(at(10'000)).has_value());
  clock.applied(101, at(1'000), 299);
  CHECK(clock.watermark(at(10'000)) == at(1'000));
  clock.applied(250, at(1'500), 150);
  CHECK(clock.watermark(at(10'001)) == at(1'500));
  // An ingest node whose clock lagged: the watermark does not go back.
  clock.applied(251, at(1'400), 149);
  CHECK(clock.watermark(at(10'002)) == at(1'500));
  clock.applied(400, at(1'900), 0);
  CHECK(clock.caught_up());
  CHECK(clock.watermark(at(10'003)) == at(10'001));
}

TEST_CASE("catch_up_clock: event time never passes the wall clock's watermark",
          "[catch_up_clock]") {
  CatchUpClock clock({0}, kLateness);
  clock.started(1, 10);
  // Stamped by a node whose clock runs a minute ahead.
  clock.applied(1, at(160), 9);
  CHECK(clock.watermark(at(100)) == at(98));
}

TEST_CASE("catch_up_clock: a lost connection holds the watermark at event time",
          "[catch_up_clock]") {
  CatchUpClock clock({0}, kLateness);
  clock.started(1, 1);
  clock.applied(1, at(50), 0);
  CHECK(clock.watermark(at(60)) == at(58));
  clock.set_connected(false);
  CHECK_FALSE(clock.caught_up());
  CHECK_FALSE(clock.caught_up(0));
  // What was answered stays (the engine never goes back); it does not move on.
  CHECK(clock.watermark(at(70)) == at(58));
  CHECK(clock.watermark(at(80)) == at(58));
  clock.set_connected(true);
  CHECK(clock.watermark(at(81)) == at(79));
}

TEST_CASE("catch_up_clock: messages of other partitions move the position on", "[catch_up_clock]") {
  CatchUpClock clock({1}, kLateness);
  clock.started(1, 10);
  clock.applied(3, at(10), 7);
  clock.passed(11);
  CHECK(clock.position() == 11);
  clock.passed(5);  // never back
  CHECK(clock.position() == 11);
}

TEST_CASE("catch_up_clock: a partition is current once its newest message is applied",
          "[catch_up_clock]") {
  CatchUpClock clock({0, 5}, kLateness);
  clock.started(1, 1000);
  clock.partition_last(0, 40);
  clock.partition_last(5, 900);
  clock.partition_last(7, 999);  // not consumed: ignored
  CHECK(clock.lag(0) == 40);
  CHECK(clock.lag(5) == 900);
  CHECK(clock.lag(7) == 0);
  clock.applied(40, at(10), 960);
  CHECK(clock.caught_up(0));
  CHECK(clock.lag(0) == 0);
  CHECK_FALSE(clock.caught_up(5));
  CHECK(clock.lag(5) == 860);
  // Past its newest message as last looked up: current, though other partitions are pending.
  clock.applied(950, at(20), 50);
  CHECK(clock.caught_up(5));
  CHECK(clock.lag(5) == 0);
  CHECK_FALSE(clock.caught_up());
  // A newer lookup finds more of it.
  clock.partition_last(5, 990);
  CHECK_FALSE(clock.caught_up(5));
  CHECK(clock.lag(5) == 40);
  clock.applied(1000, at(30), 0);
  CHECK(clock.caught_up(5));
  CHECK(clock.lag(5) == 0);
}

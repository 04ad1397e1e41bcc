// LogRetention: where the event log may start, from noted (applied end, watermark) pairs, the
// horizon and the oldest kept snapshot. Time is data.
#include "log_retention.h"

#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;
using replywatch::server::LogRetention;

TEST_CASE("log_retention: the horizon is the longest window plus the dedup retention",
          "[retention]") {
  const auto rules = rules_from_yaml(R"(
platform: tmall
timezone: UTC
slas:
  - name: short
    kind: reply_time
    deadline: 1m
    window: 1h
    resolution: 1m
  - name: long
    kind: average_response
    max_average: 1m
    unanswered_cost: 5m
    window: 7d
    resolution: 1h
  - name: online
    kind: agent_presence
)");
  CHECK(LogRetention::horizon_of(*rules, std::chrono::hours(24)) ==
        std::chrono::hours(24 * 7 + 24));
}

TEST_CASE("log_retention: records go once older than the horizon and covered by a snapshot",
          "[retention]") {
  LogRetention retention(mins(10));
  const Instant t0 = T("2026-11-20T10:00:00Z");
  retention.note(101, t0);
  retention.note(201, t0 + mins(1));
  retention.note(301, t0 + mins(5));
  // Nothing is older than the horizon yet.
  CHECK(retention.first_needed(t0 + mins(9), 1000) == 0);
  // Records before 101 were recorded at t0 at the latest: past the horizon at t0 + 10 min.
  CHECK(retention.first_needed(t0 + mins(10), 1000) == 101);
  CHECK(retention.first_needed(t0 + mins(11), 1000) == 201);
  CHECK(retention.first_needed(t0 + mins(30), 1000) == 301);
  // Never past what the oldest kept snapshot covers, and nothing without one.
  CHECK(retention.first_needed(t0 + mins(30), 150) == 150);
  CHECK(retention.first_needed(t0 + mins(30), std::nullopt) == 0);
}

TEST_CASE("log_retention: marks stay few whatever the traffic, and only ever err on keeping",
          "[retention]") {
  LogRetention retention(mins(64));  // one mark a minute at most
  const Instant t0 = T("2026-11-20T10:00:00Z");
  replywatch::storage::Sequence end = 1;
  for (int second = 0; second < 4 * 3600; ++second) {
    end += 10;
    retention.note(end, t0 + sec(second));
    const Instant now = t0 + sec(second);
    const auto first = retention.first_needed(now, end);
    // Every record before `first` was applied by a watermark at least a horizon ago.
    if (first != 0) {
      const auto applied_at = (static_cast<std::int64_t>(first) - 1) / 10 - 1;  // its second
      CHECK(t0 + sec(applied_at) <= now - mins(64));
      // and it is within two marks (two minutes) of the exact cut
      CHECK(t0 + sec(applied_at) >= now - mins(64) - mins(2));
    }
  }
  CHECK(retention.first_needed(t0 + sec(4 * 3600), end) > 1);
}

TEST_CASE("log_retention: a smaller horizon after a reload cuts further", "[retention]") {
  LogRetention retention(std::chrono::hours(2));
  const Instant t0 = T("2026-11-20T10:00:00Z");
  retention.note(11, t0);
  retention.note(21, t0 + mins(30));
  retention.note(31, t0 + mins(60));
  CHECK(retention.first_needed(t0 + mins(70), 100) == 0);
  retention.set_horizon(mins(20));
  CHECK(retention.first_needed(t0 + mins(70), 100) == 21);
}

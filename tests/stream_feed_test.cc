// StreamFeed: records read from the stream applied to an engine host; a backlog in event time,
// then the wall clock. Time is data: "now" is passed in.
#include "stream_feed.h"

#include <catch2/catch.hpp>

#include "engine_test_support.h"

using namespace rwtest;
using replywatch::SlaFigures;
using replywatch::server::EngineHost;
using replywatch::server::StreamFeed;
using replywatch::storage::LoggedRecord;

namespace {

constexpr const char* kRules = R"(
platform: tmall
timezone: UTC
slas:
  - name: reply_1m
    kind: reply_time
    deadline: 1m
)";

constexpr Duration kLateness = std::chrono::seconds(2);

LoggedRecord record(std::uint64_t sequence, Event event, Instant watermark) {
  LoggedRecord out;
  out.sequence = sequence;
  out.record.watermark = watermark;
  out.record.event = std::move(event);
  return out;
}

SlaFigures figures(const EngineHost& host, Instant at, const std::string& shop) {
  for (const SlaFigures& f : host.engine().figures(at)) {
    if (f.shop == shop) return f;
  }
  return {};
}

// The published history: a buyer at 10:00:00 answered at 10:00:30 (met), one at 10:01:00
// answered at 10:02:30 (breached at 10:02:00). Each stamped with the ingesting node's
// watermark when it was published (its clock − lateness, the sender being prompt).
std::vector<LoggedRecord> history() {
  const Instant t = T("2026-11-29T10:00:00Z");
  std::vector<LoggedRecord> out;
  out.push_back(record(1, buyer("b1", "s1", "c1", t), t - kLateness));
  out.push_back(record(2, agent_msg("a1", "s1", "c1", t + sec(30)), t + sec(30) - kLateness));
  out.push_back(record(4, buyer("b2", "s1", "c2", t + sec(60)), t + sec(60) - kLateness));
  out.push_back(record(7, agent_msg("a2", "s1", "c2", t + sec(150)), t + sec(150) - kLateness));
  return out;
}

}  // namespace

TEST_CASE("stream_feed: a restarted consumer applies its backlog in event time",
          "[stream_feed][catch_up_clock]") {
  EngineHost host(rules_from_yaml(kRules), {});
  StreamFeed feed({0}, kLateness);
  feed.start(host, 1, 7);                         // seven messages stored, none applied
  const Instant now = T("2026-11-29T11:00:00Z");  // an hour after they were published
  CHECK_FALSE(feed.clock().caught_up());

  std::vector<LoggedRecord> backlog = history();
  std::vector<LoggedRecord> first(backlog.begin(), backlog.begin() + 2);
  std::vector<LoggedRecord> second(backlog.begin() + 2, backlog.end());
  feed.apply(first, 5, 3, now);
  // Behind: the engine stands at the last message's watermark, not at the wall clock.
  CHECK(host.engine().watermark() == T("2026-11-29T10:00:28Z"));
  // Time passing does not move a consumer that is behind.
  feed.tick(now + sec(5));
  CHECK(host.engine().watermark() == T("2026-11-29T10:00:28Z"));
  feed.apply(second, 0, 8, now + sec(10));
  CHECK(feed.clock().caught_up());
  CHECK(feed.position() == 8);
  CHECK(feed.counts().applied == 4);
  // Current: the wall clock's watermark.
  CHECK(host.engine().watermark() == now + sec(10) - kLateness);

  const SlaFigures f = figures(host, now, "s1");
  CHECK(f.rounds == 2);
  CHECK(f.breaches == 1);  // only the round answered after its deadline
  CHECK(host.platform_counts(0).late == 0);
}

TEST_CASE("stream_feed: the same backlog applied at the wall clock would be late and misjudged",
          "[stream_feed][catch_up_clock]") {
  // What the event-time catch-up avoids: the engine advanced to now first makes every backlog
  // event late, and the first round's deadline is decided before its answer is applied.
  EngineHost host(rules_from_yaml(kRules), {});
  const Instant now = T("2026-11-29T11:00:00Z");
  host.engine().advance(now - kLateness);
  for (LoggedRecord& logged : history()) {
    logged.record.continues_batch = true;
    host.replay_record(logged.record);
    host.engine().advance(now - kLateness);
  }
  CHECK(host.platform_counts(0).late == 4);
  CHECK(figures(host, now, "s1").breaches == 2);
}

TEST_CASE("stream_feed: replicas reading the same backlog reach the same figures",
          "[stream_feed][catch_up_clock]") {
  // One catches up in one batch an hour later, the other message by message as published.
  EngineHost late_host(rules_from_yaml(kRules), {});
  EngineHost live_host(rules_from_yaml(kRules), {});
  StreamFeed late_feed({0}, kLateness);
  StreamFeed live_feed({0}, kLateness);
  late_feed.start(late_host, 1, 7);
  live_feed.start(live_host, 1, 0);
  std::vector<LoggedRecord> all = history();
  late_feed.apply(all, 0, 8, T("2026-11-29T11:00:00Z"));
  for (LoggedRecord& logged : history()) {
    const Instant published = logged.record.watermark + kLateness;
    std::vector<LoggedRecord> one;
    const std::uint64_t next = logged.sequence + 1;
    one.push_back(std::move(logged));
    live_feed.apply(one, 0, next, published + ms(5));
  }
  live_feed.tick(T("2026-11-29T11:00:00Z"));
  const Instant at = T("2026-11-29T11:00:00Z");
  CHECK(figures(late_host, at, "s1").rounds == figures(live_host, at, "s1").rounds);
  CHECK(figures(late_host, at, "s1").breaches == figures(live_host, at, "s1").breaches);
  CHECK(figures(live_host, at, "s1").breaches == 1);
  CHECK(late_host.engine().watermark() == live_host.engine().watermark());
}

TEST_CASE("stream_feed: shops no longer admitted and unknown platforms are skipped",
          "[stream_feed]") {
  EngineHost host(rules_from_yaml(kRules), {});
  StreamFeed feed({0}, kLateness);
  feed.start(host, 1, 0);
  const Instant t = T("2026-11-29T10:00:00Z");
  std::vector<LoggedRecord> records;
  records.push_back(record(1, buyer("b1", "s1", "c1", t, "gone"), t - kLateness));
  records.push_back(record(2, buyer("b2", "s1", "c1", t), t - kLateness));
  feed.apply(records, 0, 3, t);
  CHECK(feed.counts().applied == 1);
  CHECK(feed.counts().skipped == 1);
  CHECK(feed.position() == 3);
}

TEST_CASE(
    "stream_feed: a late buyer message and its reply published by one request are offered "
    "together, as the ingesting node's log replays them",
    "[stream_feed]") {
  EngineHost host(rules_from_yaml(kRules), {});
  StreamFeed feed({0}, kLateness);
  const Instant now = T("2026-11-29T11:00:00Z");
  feed.start(host, 1, 0);  // an empty stream: current from the start
  feed.tick(now);
  // An hour old and answered in time: both share the request's watermark.
  const Instant t = T("2026-11-29T10:00:00Z");
  const Instant published = now - kLateness;
  std::vector<LoggedRecord> request;
  request.push_back(record(1, buyer("b1", "s1", "c1", t), published));
  request.push_back(record(2, agent_msg("a1", "s1", "c1", t + sec(30)), published));
  feed.apply(request, 0, 3, now + sec(1));
  const SlaFigures f = figures(host, now + sec(1), "s1");
  CHECK(f.rounds == 1);
  CHECK(f.breaches == 0);
}

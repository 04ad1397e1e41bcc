// EngineHost: histogram bounds and buckets, per-platform counts, and the journal replay that
// rebuilds the live state on start and reload.
#include "engine_host.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "engine_test_support.h"
#include "replywatch/event_codec.h"

using namespace rwtest;
using replywatch::OfferResult;
using replywatch::SlaFigures;
using replywatch::SlaRef;
using replywatch::server::EngineHost;
using replywatch::server::JournalLineResult;
using replywatch::server::PlatformEventCounts;
using replywatch::server::ResponseHistogram;
using replywatch::storage::LogRecord;

namespace {

constexpr const char* kTmallYaml = R"(
platform: tmall
timezone: Asia/Shanghai
replies:
  counted_bots: [leyan]
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    objective: 0.9
  - name: avg_40s
    kind: average_response
    max_average: 40s
    unanswered_cost: 500s
  - name: agent_online
    kind: agent_presence
    min_online: 1
    grace: 30s
)";

constexpr const char* kJdYaml = R"(
platform: jd
timezone: Asia/Shanghai
slas:
  - name: quick_7s
    kind: reply_time
    deadline: 7s
    warn_before: 2500ms
  - name: human_avg
    kind: average_response
    replies: human
    max_average: 1234ms
    unanswered_cost: 2d
)";

const Instant kT0 = Instant(Duration(1795359600000));  // 2026-11-22T15:00:00Z

SlaFigures figures_of(const EngineHost& host, Instant at, std::string_view shop,
                      std::string_view sla, std::string_view platform = "tmall") {
  for (const SlaFigures& f : host.engine().figures(at)) {
    if (f.platform == platform && f.shop == shop && f.sla == sla) return f;
  }
  FAIL("no figures for " << std::string(platform) << "/" << std::string(shop) << "/"
                         << std::string(sla));
  return {};
}

SlaRef ref_of(const EngineHost& host, Instant at, std::string_view shop, std::string_view sla,
              std::string_view platform = "tmall") {
  return figures_of(host, at, shop, sla, platform).ref;
}

std::size_t bucket_index(const EngineHost& host, SlaRef ref, double bound) {
  const auto& bounds = host.bucket_bounds(ref);
  const auto it = std::find(bounds.begin(), bounds.end(), bound);
  REQUIRE(it != bounds.end());
  return static_cast<std::size_t>(it - bounds.begin());
}

void check_same_figures(const std::vector<SlaFigures>& live,
                        const std::vector<SlaFigures>& replayed) {
  REQUIRE(live.size() == replayed.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    const SlaFigures& a = live[i];
    const SlaFigures& b = replayed[i];
    INFO(a.platform << "/" << a.shop << "/" << a.sla);
    CHECK(a.ref.platform == b.ref.platform);
    CHECK(a.ref.shop == b.ref.shop);
    CHECK(a.ref.sla == b.ref.sla);
    CHECK(a.platform == b.platform);
    CHECK(a.shop == b.shop);
    CHECK(a.sla == b.sla);
    CHECK(a.kind == b.kind);
    CHECK(a.rounds == b.rounds);
    CHECK(a.breaches == b.breaches);
    CHECK(a.warnings == b.warnings);
    CHECK(a.open_rounds == b.open_rounds);
    CHECK(a.at_risk_rounds == b.at_risk_rounds);
    CHECK(a.oldest_open_start == b.oldest_open_start);
    CHECK(a.window_rounds == b.window_rounds);
    CHECK(a.compliance_ratio == b.compliance_ratio);
    CHECK(a.average_response_seconds == b.average_response_seconds);
    CHECK(a.error_budget_remaining_rounds == b.error_budget_remaining_rounds);
    CHECK(a.understaffed_seconds == b.understaffed_seconds);
    CHECK(a.violating == b.violating);
    CHECK(a.agents_online == b.agents_online);
  }
}

void check_same_histograms(const EngineHost& live, const EngineHost& replayed, Instant at) {
  for (const SlaFigures& f : live.engine().figures(at)) {
    INFO(f.platform << "/" << f.shop << "/" << f.sla);
    CHECK(live.bucket_bounds(f.ref) == replayed.bucket_bounds(f.ref));
    const ResponseHistogram* a = live.histogram(f.ref);
    const ResponseHistogram* b = replayed.histogram(f.ref);
    REQUIRE((a == nullptr) == (b == nullptr));
    if (a == nullptr) continue;
    CHECK(a->bucket_counts == b->bucket_counts);
    CHECK(a->sum == b->sum);
    CHECK(a->count == b->count);
  }
}

void check_same_counts(const PlatformEventCounts& a, const PlatformEventCounts& b) {
  CHECK(a.received == b.received);
  CHECK(a.duplicates == b.duplicates);
  CHECK(a.late == b.late);
}

// What Daemon::Impl::commit does with one request's events: advance to now - lateness, log
// every event that is neither a duplicate at the watermark nor a second copy within the request
// (all but the first marked as continuing the request), offer those, then the copies left out
// (counted as duplicates, and kept aside as the daemon does, for a rebuilt host).
class LiveDaemon {
 public:
  explicit LiveDaemon(std::shared_ptr<const replywatch::RuleSet> rules)
      : host(std::move(rules), replywatch::EngineOptions{}),
        unwritten(host.rules().platforms.size()) {}

  std::vector<OfferResult> commit(Instant now, std::vector<Event> events) {
    host.engine().advance(now - kLateness);
    const Instant watermark = host.engine().watermark();
    std::vector<bool> written(events.size(), false);
    std::set<std::tuple<std::string, std::string, std::string>> in_request;
    bool first = true;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Event& event = events[i];
      if (!in_request.insert({event.platform, event.shop, event.id}).second) continue;
      if (host.engine().is_duplicate(event)) continue;
      records.push_back(LogRecord{watermark, !first, event});
      first = false;
      written[i] = true;
    }
    std::vector<OfferResult> results(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (written[i]) results[i] = host.offer(events[i]);
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (written[i]) continue;
      const auto platform = static_cast<std::size_t>(host.rules().find(events[i].platform) -
                                                     host.rules().platforms.data());
      ++unwritten[platform].received[static_cast<std::size_t>(events[i].type)];
      ++unwritten[platform].duplicates;
      results[i] = host.offer(events[i]);
    }
    return results;
  }

  // The daemon's timer: time passes without a request, nothing is logged.
  void tick(Instant now) { host.engine().advance(now - kLateness); }

  static constexpr Duration kLateness = Duration(2000);
  EngineHost host;
  std::vector<LogRecord> records;
  std::vector<PlatformEventCounts> unwritten;
};

}  // namespace

TEST_CASE("engine_host: histogram bounds are the SLA's own thresholds and a short ladder",
          "[engine_host]") {
  EngineHost host(rules_from_yamls({kTmallYaml, kJdYaml}), {});
  // Platforms sort by name: jd is 0, tmall 1. SLAs in file order.
  const SlaRef jd_quick{0, 0, 0};
  const SlaRef tmall_reply{1, 0, 0};
  const SlaRef tmall_average{1, 0, 1};
  const SlaRef tmall_presence{1, 0, 2};
  // reply_time: deadline 180 s, warning point 120 s, and 1/4, 1/2, 2 and 4 times the deadline
  CHECK(host.bucket_bounds(tmall_reply) == std::vector<double>{45, 90, 120, 180, 360, 720});
  // average_response: max_average 40 s, unanswered_cost 500 s, and the ladder around 40 s
  CHECK(host.bucket_bounds(tmall_average) == std::vector<double>{10, 20, 40, 80, 160, 500});
  // another file's thresholds stay in its own SLAs: 7 s and its 4.5 s warning point
  CHECK(host.bucket_bounds(jd_quick) == std::vector<double>{1.75, 3.5, 4.5, 7, 14, 28});
  CHECK(host.bucket_bounds(tmall_presence).empty());
}

TEST_CASE("engine_host: a decided round lands in the bucket whose bound is >= its time",
          "[engine_host]") {
  EngineHost host(rules_from_yaml(kTmallYaml), {});
  host.offer(buyer("b1", "s1", "exactly_60s", kT0));
  host.offer(agent_msg("a1", "s1", "exactly_60s", kT0 + sec(60)));
  host.offer(buyer("b2", "s1", "just_over_60s", kT0));
  host.offer(agent_msg("a2", "s1", "just_over_60s", kT0 + sec(60) + ms(1)));
  host.offer(buyer("b3", "s1", "unanswered", kT0));
  host.offer(buyer("b4", "s1", "fast", kT0));
  host.offer(agent_msg("a4", "s1", "fast", kT0 + ms(1)));
  host.offer(buyer("b5", "s2", "other_shop", kT0));

  // Before anything is decided there is no histogram.
  host.engine().advance(kT0 + ms(1));  // the buyer messages only
  const SlaRef reply = ref_of(host, kT0, "s1", "reply_3m");
  const SlaRef average = ref_of(host, kT0, "s1", "avg_40s");
  CHECK(host.histogram(reply) == nullptr);

  host.engine().advance(kT0 + mins(20));
  const Instant at = kT0 + mins(20);
  const ResponseHistogram* h = host.histogram(reply);
  REQUIRE(h != nullptr);
  REQUIRE(h->bucket_counts.size() == host.bucket_bounds(reply).size());
  std::vector<std::uint64_t> expected(host.bucket_bounds(reply).size(), 0);
  expected[bucket_index(host, reply, 45.0)] = 1;   // 0.001 s
  expected[bucket_index(host, reply, 90.0)] = 2;   // 60 s and 60.001 s
  expected[bucket_index(host, reply, 180.0)] = 1;  // unanswered: observed at its deadline
  CHECK(h->bucket_counts == expected);
  CHECK(h->count == 4);
  CHECK(h->sum == Approx(0.001 + 60.0 + 60.001 + 180.0));

  // The same rounds under average_response: the unanswered one at its cost cap (500 s).
  const ResponseHistogram* avg = host.histogram(average);
  REQUIRE(avg != nullptr);
  std::vector<std::uint64_t> expected_avg(host.bucket_bounds(average).size(), 0);
  expected_avg[bucket_index(host, average, 10.0)] = 1;
  expected_avg[bucket_index(host, average, 80.0)] = 2;  // 60 s and 60.001 s
  expected_avg[bucket_index(host, average, 500.0)] = 1;
  CHECK(avg->bucket_counts == expected_avg);
  CHECK(avg->count == 4);

  // The histogram agrees with the engine's own count of decided rounds, per shop.
  CHECK(figures_of(host, at, "s1", "reply_3m").rounds == 4);
  CHECK(figures_of(host, at, "s1", "reply_3m").breaches == 1);
  const SlaRef other = ref_of(host, at, "s2", "reply_3m");
  const ResponseHistogram* other_h = host.histogram(other);
  REQUIRE(other_h != nullptr);
  CHECK(other_h->count == 1);
  CHECK(other_h->bucket_counts[bucket_index(host, other, 180.0)] == 1);
  // agent_presence decides no rounds.
  CHECK(host.histogram(ref_of(host, at, "s1", "agent_online")) == nullptr);
}

TEST_CASE("engine_host: platform counts follow offers by type, duplicates and late events",
          "[engine_host]") {
  EngineHost host(rules_from_yamls({kTmallYaml, kJdYaml}), {});
  host.offer(buyer("b1", "s1", "c1", kT0));
  host.offer(buyer("b1", "s1", "c1", kT0));  // duplicate
  host.offer(agent_msg("a1", "s1", "c1", kT0 + sec(5)));
  host.offer(bot_msg("bot1", "s1", "c1", kT0 + sec(6), "leyan"));
  host.offer(closed("x1", "s1", "c1", kT0 + sec(7)));
  host.offer(status("st1", "s1", "agent7", true, kT0));
  host.engine().advance(kT0 + mins(1));
  const OfferResult late = host.offer(buyer("b2", "s1", "c2", kT0 + sec(30)));
  CHECK(late.late);
  host.offer(buyer("j1", "s1", "c1", kT0, "jd"));

  const auto& rules = host.rules();
  const auto tmall = static_cast<std::uint32_t>(rules.find("tmall") - rules.platforms.data());
  const auto jd = static_cast<std::uint32_t>(rules.find("jd") - rules.platforms.data());
  const PlatformEventCounts& t = host.platform_counts(tmall);
  CHECK(t.received[static_cast<std::size_t>(EventType::kBuyerMessage)] == 3);
  CHECK(t.received[static_cast<std::size_t>(EventType::kAgentMessage)] == 1);
  CHECK(t.received[static_cast<std::size_t>(EventType::kBotMessage)] == 1);
  CHECK(t.received[static_cast<std::size_t>(EventType::kConversationClosed)] == 1);
  CHECK(t.received[static_cast<std::size_t>(EventType::kAgentStatus)] == 1);
  CHECK(t.duplicates == 1);
  CHECK(t.late == 1);
  const PlatformEventCounts& j = host.platform_counts(jd);
  CHECK(j.received[static_cast<std::size_t>(EventType::kBuyerMessage)] == 1);
  CHECK(j.duplicates == 0);
  CHECK(j.late == 1);  // its ts is behind the watermark too
}

TEST_CASE("engine_host: replaying the journal reproduces the live state", "[engine_host]") {
  const auto rules = rules_from_yamls({kTmallYaml, kJdYaml});
  LiveDaemon live(rules);

  // Requests as they reach the daemon, at wall-clock instants; each event arrives a second
  // after its ts, except three late ones.
  live.commit(kT0 + sec(1), {status("st1", "s1", "agent7", true, kT0), buyer("b1", "s1", "c1", kT0),
                             buyer("b2", "s1", "c2", kT0 + sec(1))});
  live.commit(kT0 + sec(31), {agent_msg("a1", "s1", "c1", kT0 + sec(30)),
                              buyer("b3", "s2", "c1", kT0 + sec(30) + ms(500)),
                              buyer("j1", "s9", "c1", kT0 + sec(30) + ms(600), "jd")});
  live.tick(kT0 + mins(2) + sec(10));  // the warning of c2 fires here, no request
  // The watermark is at 3m58s. A late event; a duplicate within one request (written once);
  // and a late
  // round answered, in the same request, after its deadline: live, the deadline timer has not
  // fired between the two, so replay must not advance between them either.
  const Instant t3 = kT0 + mins(3) + sec(59);
  const auto results =
      live.commit(kT0 + mins(4),
                  {buyer("b4", "s1", "c4", kT0 + sec(10)), buyer("b5", "s1", "c5", t3),
                   buyer("b5", "s1", "c5", t3), bot_msg("bot1", "s2", "c1", t3 + ms(500), "leyan"),
                   buyer("b6", "s1", "c6", kT0 + sec(20)),
                   agent_msg("a6", "s1", "c6", kT0 + mins(3) + sec(30))});
  REQUIRE(results.size() == 6);
  CHECK(results[0].late);
  CHECK_FALSE(results[1].late);
  CHECK_FALSE(results[1].duplicate);
  CHECK(results[2].duplicate);
  CHECK(results[4].late);
  CHECK(results[5].late);
  const Instant t4 = kT0 + mins(4) + sec(59);
  live.commit(kT0 + mins(5),
              {agent_msg("a4", "s1", "c4", t4), agent_msg("j2", "s9", "c1", t4 + ms(100), "jd"),
               status("st2", "s1", "agent7", false, t4 + ms(200))});
  live.tick(kT0 + mins(30));

  std::vector<LogRecord> records = live.records;
  REQUIRE(records.size() == 14);

  EngineHost replayed(rules, {});
  std::vector<JournalLineResult> outcomes;
  for (LogRecord& record : records) outcomes.push_back(replayed.replay_record(record));
  CHECK(std::count(outcomes.begin(), outcomes.end(), JournalLineResult::kApplied) == 14);
  for (std::uint32_t p = 0; p < rules->platforms.size(); ++p) {
    replayed.add_counts(p, live.unwritten[p]);  // as a rebuild in the daemon does
  }
  // Restored, the daemon moves on to now.
  replayed.engine().advance(live.host.engine().watermark());
  CHECK(replayed.engine().watermark() == live.host.engine().watermark());

  for (const Instant at : {live.host.engine().watermark(), kT0 + mins(45)}) {
    const auto live_figures = live.host.engine().figures(at);
    // The stream did produce something to compare.
    std::uint64_t rounds = 0, breaches = 0, warnings = 0;
    for (const SlaFigures& f : live_figures) {
      rounds += f.rounds;
      breaches += f.breaches;
      warnings += f.warnings;
    }
    CHECK(rounds > 0);
    CHECK(breaches > 0);
    CHECK(warnings > 0);
    check_same_figures(live_figures, replayed.engine().figures(at));
  }
  check_same_histograms(live.host, replayed, live.host.engine().watermark());
  for (std::uint32_t p = 0; p < rules->platforms.size(); ++p) {
    INFO(rules->platforms[p].platform);
    check_same_counts(live.host.platform_counts(p), replayed.platform_counts(p));
  }
  CHECK(live.host.engine().counters().accepted == replayed.engine().counters().accepted);
  CHECK(live.host.engine().counters().late == replayed.engine().counters().late);
  CHECK(live.host.engine().counters().late == 3);
}

TEST_CASE("engine_host: a webhook retried after it was taken is not journaled again",
          "[engine_host]") {
  // The retried copy is acknowledged as a duplicate without being written, so a host rebuilt
  // from the log has the same figures but has never seen that copy.
  const auto rules = rules_from_yaml(kTmallYaml);
  LiveDaemon live(rules);
  live.commit(kT0 + sec(1), {buyer("b1", "s1", "c1", kT0)});
  live.commit(kT0 + sec(31), {agent_msg("a1", "s1", "c1", kT0 + sec(30))});
  const auto retried = live.commit(kT0 + sec(45), {agent_msg("a1", "s1", "c1", kT0 + sec(30))});
  REQUIRE(retried.size() == 1);
  CHECK(retried[0].duplicate);
  live.tick(kT0 + mins(10));
  REQUIRE(live.records.size() == 2);

  EngineHost replayed(rules, {});
  for (LogRecord record : live.records) {
    CHECK(replayed.replay_record(record) == JournalLineResult::kApplied);
  }
  replayed.engine().advance(live.host.engine().watermark());
  const Instant at = live.host.engine().watermark();
  check_same_figures(live.host.engine().figures(at), replayed.engine().figures(at));
  check_same_histograms(live.host, replayed, at);
  CHECK(live.host.platform_counts(0).duplicates == 1);
  CHECK(replayed.platform_counts(0).duplicates == 0);
  CHECK(live.host.platform_counts(0).late == replayed.platform_counts(0).late);
}

TEST_CASE("engine_host: a record is applied once; a second copy is a duplicate", "[engine_host]") {
  EngineHost host(rules_from_yaml(kTmallYaml), {});
  host.engine().advance(kT0);
  LogRecord record{kT0 + sec(100), false, buyer("m1", "s1", "c1", kT0)};
  LogRecord copy = record;
  CHECK(host.replay_record(record) == JournalLineResult::kApplied);
  CHECK(host.engine().watermark() == kT0 + sec(100));
  CHECK(host.replay_record(copy) == JournalLineResult::kDuplicate);
  LogRecord beyond{Instant(Duration(replywatch::kMaxEpochMillis + 1)), false,
                   buyer("m2", "s1", "c1", kT0)};
  CHECK(host.replay_record(beyond) == JournalLineResult::kCorrupt);
  CHECK(host.engine().watermark() == kT0 + sec(100));
}

TEST_CASE("engine_host: an event of a platform no longer loaded is reported as such",
          "[engine_host]") {
  EngineHost host(rules_from_yaml(kTmallYaml), {});
  host.engine().advance(kT0);
  LogRecord record{kT0 + sec(100), false, buyer("m1", "s1", "c1", kT0, "jd")};
  CHECK(host.replay_record(record) == JournalLineResult::kUnknownPlatform);
  CHECK(host.engine().watermark() == kT0);
  CHECK(host.engine().shop_count() == 0);
}

// A random event stream over a rule file that exercises every SLA kind, sessions, service hours
// and presence: shared by the tests that compare two ways of reaching one state (reordering,
// snapshot and restore).
#pragma once

#include <cstdint>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine_test_support.h"

namespace rwtest {

inline constexpr const char* kYaml = R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
    - days: [fri]
      from: "23:02"
      to: "23:04"
sessions:
  idle_timeout: 60s
replies:
  counted_bots: [leyan]
slas:
  - name: first_counted
    kind: reply_time
    rounds: first
    deadline: 30s
    warn_before: 10s
    objective: 0.9
    hours: service
  - name: every_human
    kind: reply_time
    replies: human
    deadline: 20s
    hours: service
    outside_hours: exclude
  - name: every_always
    kind: reply_time
    deadline: 15s
    warn_before: 5s
    window: 1h
    resolution: 5m
    min_rounds: 3
    objective: 0.5
  - name: avg
    kind: average_response
    max_average: 10s
    unanswered_cost: 45s
    window: 1h
    resolution: 5m
  - name: presence
    kind: agent_presence
    grace: 5s
    hours: service
  - name: presence_two
    kind: agent_presence
    min_online: 2
)";

inline constexpr Duration kLateness = Duration(2000);

// A random stream sorted by ts (equal ts allowed), with a few exact retries.
inline std::vector<Event> generate(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  const char* shops[] = {"s1", "s2", "s3"};
  const char* convs[] = {"c0", "c1", "c2", "c3"};
  const char* agents[] = {"a0", "a1", "a2"};
  const char* bots[] = {"leyan", "platform", "xiaoduo"};

  std::vector<Event> events;
  // Friday 22:57 local: the stream crosses the 23:00 closing and the 23:02-23:04 shift
  Instant ts = T("2026-11-20T22:57:00+08:00");
  for (int i = 0; events.size() < 300; ++i) {
    if (pick(4) != 0) ts += Duration(1 + pick(3000));  // a quarter share the previous ts
    const std::string shop = shops[pick(3)];
    const std::string conv = convs[pick(4)];
    const std::string id = "e" + std::to_string(i);
    const int kind = pick(100);
    Event e;
    if (kind < 40) {
      e = buyer(id, shop, conv, ts);
    } else if (kind < 60) {
      e = agent_msg(id, shop, conv, ts);
    } else if (kind < 75) {
      e = bot_msg(id, shop, conv, ts, bots[pick(3)]);
    } else if (kind < 80) {
      e = closed(id, shop, conv, ts);
    } else {
      e = status(id, shop, agents[pick(3)], pick(2) == 0, ts);
    }
    events.push_back(e);
    if (pick(20) == 0) events.push_back(e);  // a webhook retry: same id, same ts
  }
  return events;
}

// One line with every figure, for comparing whole states.
inline std::string describe(const replywatch::SlaFigures& f) {
  std::ostringstream out;
  out << std::setprecision(17) << f.platform << "/" << f.shop << "/" << f.sla
      << " kind=" << static_cast<int>(f.kind) << " rounds=" << f.rounds
      << " breaches=" << f.breaches << " warnings=" << f.warnings << " open=" << f.open_rounds
      << " at_risk=" << f.at_risk_rounds
      << " oldest=" << (f.oldest_open_start ? f.oldest_open_start->time_since_epoch().count() : -1)
      << " window_rounds=" << f.window_rounds << " compliance=" << f.compliance_ratio
      << " average=" << f.average_response_seconds << " budget="
      << (f.error_budget_remaining_rounds ? std::to_string(*f.error_budget_remaining_rounds)
                                          : std::string("null"))
      << " understaffed=" << f.understaffed_seconds << " violating=" << f.violating
      << " online=" << f.agents_online;
  return out.str();
}

}  // namespace rwtest

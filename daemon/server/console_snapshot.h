// What the console at / shows, as JSON: the queue (rounds buyers are waiting on, soonest due
// first) and the shops (each SLA's figures). The shops' figures are Engine::figures at the
// engine's watermark, the very call /metrics (collect_engine_metrics) and `replay` are built
// on, so the page and a scrape at the same instant cannot disagree.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine_host.h"

namespace replywatch::server {

struct ConsoleFilter {
  std::optional<std::string> platform;
  std::optional<std::string> shop;
  std::optional<std::string> sla;

  bool operator==(const ConsoleFilter&) const = default;
};

// Rounds listed per queue; the counts cover every match.
inline constexpr std::size_t kConsoleQueueRows = 500;

// Parses ?platform=P&shop=S&sla=N (percent-encoded, each optional, empty means any); an error
// message for anything else.
std::optional<std::string> parse_console_filter(std::string_view query, ConsoleFilter& out);

// One queue per filter, all from a single pass over the engine's rounds:
// {"now": ms, "watermark": ms, "total": N, "at_risk": N, "overdue": N, "rounds": [...]}, each
// round {"platform","shop","sla","kind","conversation","start","due","warn_at"|null,"at_risk",
// "overdue"} with instants in Unix milliseconds (what the page's countdown works in).
std::vector<boost::json::object> console_queues(const EngineHost& host, Instant now,
                                                std::span<const ConsoleFilter> filters,
                                                std::size_t rows = kConsoleQueueRows);

// Per filter {"at": ms, "slas": [...]}: one entry per (platform, shop, SLA) matching it, sorted
// by platform, shop and SLA, with its rule's objective / max_average / min_online beside it.
// One Engine::figures call for all of them.
std::vector<boost::json::object> console_shops(const EngineHost& host,
                                               std::span<const ConsoleFilter> filters);

// The choices of the filters: {"platforms": [{"name", "slas": [...], "shops": [...]}]}.
boost::json::object console_choices(const EngineHost& host);

}  // namespace replywatch::server

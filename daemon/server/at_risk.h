// GET /v1/at-risk: the open rounds a shift lead should act on, per (platform, shop, SLA), the
// ones at risk or due soonest first. Conversation keys appear here and never in metrics.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>

#include "engine_host.h"

namespace replywatch::server {

struct AtRiskQuery {
  std::optional<std::string> platform;
  std::optional<std::string> shop;
  std::size_t limit = 20;  // rounds per (platform, shop, SLA)
  bool at_risk_only = false;
};

inline constexpr std::size_t kMaxAtRiskLimit = 1000;

// Parses the query string of a target ("a=b&c=d", percent-encoded); an error message when a
// parameter is unknown or bad.
std::optional<std::string> parse_at_risk_query(std::string_view query, AtRiskQuery& out);

// `now` is the wall clock, against which time left is measured; rounds are as of the engine's
// watermark.
boost::json::object at_risk_report(const EngineHost& host, Instant now, const AtRiskQuery& query);

}  // namespace replywatch::server

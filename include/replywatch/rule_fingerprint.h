// What a piece of engine state was computed under, as a number: equal fingerprints mean the
// state carries over unchanged (a restart onto a snapshot, a reload keeping an SLA's figures).
//
// An SLA's fingerprint covers everything its figures depend on:
// - its own keys (name, kind, rounds, replies, hours, outside_hours, window, resolution,
//   min_rounds, channels, deadline, warn_before, objective, notify, max_average,
//   unanswered_cost, min_online, grace) and its position in the file (the engine keeps per-round
//   state per SLA position);
// - the platform keys it reads: `sessions.idle_timeout` for round SLAs (sessions decide first
//   rounds and retirement), `replies.counted_bots` for the counted view, `service_hours` and
//   `timezone` for `hours: service`, `timezone` for day-wide buckets (`resolution` ≥ 1d), and
//   `shops` (which shops may have events) for every SLA.
// Not covered: where in the file a key is written, comments, other SLAs. The engine-wide
// settings (dedup retention, max_shops) are part of the rule set's identity instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replywatch/engine.h"
#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace replywatch {

std::uint64_t sla_fingerprint(const PlatformRules& platform, std::size_t sla_index);

struct PlatformIdentity {
  std::string platform;
  std::vector<std::string> slas;            // names, in file order
  std::vector<std::uint64_t> fingerprints;  // per SLA, in file order
  // Every platform key, whether or not an SLA reads it: equal means the platform's state (its
  // shops, agents, conversations) can be taken over as it is.
  std::uint64_t platform_fingerprint = 0;

  friend bool operator==(const PlatformIdentity&, const PlatformIdentity&) = default;
};

// The identity of a whole engine state: its rules and the engine-wide settings.
struct RuleSetIdentity {
  std::vector<PlatformIdentity> platforms;  // sorted by platform, as in the RuleSet
  std::int64_t dedup_retention_ms = 0;
  std::uint32_t max_shops = 0;

  friend bool operator==(const RuleSetIdentity&, const RuleSetIdentity&) = default;
};

RuleSetIdentity rule_set_identity(const RuleSet& rules, Duration dedup_retention,
                                  std::uint32_t max_shops);

// The SLAs a reload from `before` to `after` leaves unchanged: same platform name, same SLA name
// and equal fingerprints (so also the same position in the file). Their state carries over
// (Engine::carry_from); every other SLA of `after` is re-derived from the log.
std::vector<CarriedSla> unchanged_slas(const RuleSet& before, const RuleSet& after);

}  // namespace replywatch

// Engine::carry_from: what a reload keeps of the engine it replaces. A template over the engine's
// private State, instantiated in engine.cc (the only file that defines it), as engine_state_codec.h
// is.
//
// Both engines have seen the same event stream, the new one under the new rules and possibly only
// its retained part; both stand at the same watermark. Taken from the previous engine:
// - every shop of a platform both rule sets load, created in the new engine when the retained log
//   no longer holds its events (unless `keep_shop` refuses it);
// - each such shop's agents and their statuses (events, not rules, decide them), after which every
//   presence SLA of the new rules looks again at the agents online;
// - per unchanged SLA (`carried`) and shop: the all-time counters (rounds, breaches, warnings), the
//   window and the presence state (shortfall, its start, whether it became an incident, the
//   understaffed time). The shortfall's grace timer is armed again under a new generation, so a
//   timer of the re-derived state cannot count a second incident;
// - the event counters, whichever is larger (they never go down).
// Kept as re-derived: conversations, their rounds and the open/at-risk counts that follow from
// them, timers of rounds, the reorder buffer and the dedup table.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "replywatch/engine.h"
#include "timer_queue.h"

namespace replywatch::engine_carry {

template <typename State>
void carry(State& to, const State& from, const std::vector<CarriedSla>& carried,
           const std::function<bool(std::uint32_t, const std::string&)>& keep_shop) {
  if (to.watermark != from.watermark) {
    throw std::logic_error("state is carried only between engines at the same watermark");
  }
  const Instant now = to.watermark;
  std::vector<std::optional<std::uint32_t>> platform_of(from.platforms.size());
  for (std::uint32_t p = 0; p < from.platforms.size(); ++p) {
    platform_of[p] = to.find_platform(from.platforms[p].rules->platform);
  }
  // The new engine's index of each previous shop.
  std::vector<std::optional<std::uint32_t>> shop_of(from.shops.size());
  for (std::uint32_t s = 0; s < from.shops.size(); ++s) {
    const auto& shop = from.shops[s];
    const std::optional<std::uint32_t> platform = platform_of[shop.platform];
    if (!platform) continue;
    const auto& index = to.platforms[*platform].shop_index;
    const auto found = index.find(shop.name);
    if (found == index.end() && !keep_shop(*platform, shop.name)) continue;
    const std::uint32_t target =
        found != index.end() ? found->second : to.shop_for(*platform, shop.name, now);
    shop_of[s] = target;
    to.shops[target].agents = shop.agents;
    to.shops[target].agents_online = shop.agents_online;
    for (const std::uint32_t sla : to.platforms[*platform].presence_slas) {
      to.update_presence(target, sla, now);
    }
  }
  for (const CarriedSla& pair : carried) {
    const auto& rule = to.platforms.at(pair.platform).rules->slas.at(pair.sla);
    for (std::uint32_t s = 0; s < from.shops.size(); ++s) {
      if (!shop_of[s] || from.shops[s].platform != pair.from_platform) continue;
      const auto& was = from.shops[s].slas.at(pair.from_sla);
      auto& state = to.shops[*shop_of[s]].slas.at(pair.sla);
      state.rounds = was.rounds;
      state.breaches = was.breaches;
      state.warnings = was.warnings;
      state.window = was.window;
      if (rule.kind != SlaKind::kAgentPresence) continue;
      state.shortfall = was.shortfall;
      state.incident = was.incident;
      state.shortfall_start = was.shortfall_start;
      state.understaffed = was.understaffed;
      state.shortfall_generation = (state.shortfall_generation + 1) & TimerEntry::kGenerationMask;
      if (state.shortfall && !state.incident) {
        to.timers.push(TimerEntry::grace_end(was.shortfall_start + rule.grace, *shop_of[s],
                                             pair.sla, state.shortfall_generation));
      }
    }
  }
  to.counters.accepted = std::max(to.counters.accepted, from.counters.accepted);
  to.counters.duplicates = std::max(to.counters.duplicates, from.counters.duplicates);
  to.counters.late = std::max(to.counters.late, from.counters.late);
}

}  // namespace replywatch::engine_carry

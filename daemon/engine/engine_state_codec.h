// Engine::save and Engine::load: the whole engine state in a snapshot. Templates over the
// engine's private State, instantiated in engine.cc (the only file that defines it), so that the
// encoding sits here, apart from the engine's logic, while the state types stay private.
//
// Saved as they are: counters, shops (SLA state, windows, agents), every conversation slot (timers
// name slots, so free ones are kept in place), the free list, the reorder buffer, the timer heap,
// the dedup table. Rebuilt on load: the name and conversation indexes, the service-hours caches
// and everything the constructor derives from the rules. Loading into an engine that has seen an
// event is refused; so is a state whose platforms or SLA counts differ from the engine's rules
// (whether the rules are the same is the caller's check, through RuleSetIdentity).
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "conversation_index.h"
#include "replywatch/snapshot_codec.h"
#include "sla_window.h"
#include "timer_queue.h"

namespace replywatch::engine_codec {

inline constexpr std::uint32_t kEngineSection = 0x454e4731;  // "ENG1"
inline constexpr std::uint32_t kEngineEnd = 0x454e4445;      // "EDNE"

template <typename SlaStateT>
void save_sla_state(SnapshotWriter& out, const SlaStateT& state) {
  out.u64(state.rounds);
  out.u64(state.breaches);
  out.u64(state.warnings);
  out.u64(state.open_rounds);
  out.u64(state.at_risk);
  state.window.save(out);
  out.boolean(state.shortfall);
  out.boolean(state.incident);
  out.u32(state.shortfall_generation);
  out.instant(state.shortfall_start);
  out.duration(state.understaffed);
}

template <typename SlaStateT>
void load_sla_state(SnapshotReader& in, SlaStateT& state) {
  state.rounds = in.u64();
  state.breaches = in.u64();
  state.warnings = in.u64();
  state.open_rounds = in.u64();
  state.at_risk = in.u64();
  state.window.load(in);
  state.shortfall = in.boolean();
  state.incident = in.boolean();
  state.shortfall_generation = in.u32();
  state.shortfall_start = in.instant();
  state.understaffed = in.duration();
}

template <typename RoundT>
void save_round(SnapshotWriter& out, const RoundT& round) {
  out.instant(round.start);
  out.u32(round.generation);
  out.u32(round.scored);
  out.u32(round.decided);
  out.u32(round.warned);
}

template <typename RoundT>
void load_round(SnapshotReader& in, RoundT& round) {
  round.start = in.instant();
  round.generation = in.u32();
  round.scored = in.u32();
  round.decided = in.u32();
  round.warned = in.u32();
}

template <typename State>
void save(const State& s, SnapshotWriter& out) {
  out.tag(kEngineSection);
  out.duration(s.options.dedup_retention);
  out.u64(s.platforms.size());
  for (const auto& platform : s.platforms) {
    out.string(platform.rules->platform);
    out.u32(static_cast<std::uint32_t>(platform.rules->slas.size()));
    out.boolean(platform.boundary_timer_armed);
  }
  out.instant(s.watermark);
  out.instant(s.apply_limit);
  out.instant(s.next_sweep);
  out.u32(s.next_generation);
  out.u64(s.counters.accepted);
  out.u64(s.counters.duplicates);
  out.u64(s.counters.late);

  out.u64(s.shops.size());
  for (const auto& shop : s.shops) {
    out.u32(shop.platform);
    out.string(shop.name);
    for (const auto& state : shop.slas) save_sla_state(out, state);
    // By name, so that equal states give equal bytes whatever the hash map's order.
    std::vector<const typename decltype(shop.agents)::value_type*> agents;
    agents.reserve(shop.agents.size());
    for (const auto& entry : shop.agents) agents.push_back(&entry);
    std::sort(agents.begin(), agents.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    out.u64(agents.size());
    for (const auto* entry : agents) {
      out.string(entry->first);
      out.instant(entry->second.ts);
      out.boolean(entry->second.online);
    }
    out.u32(shop.agents_online);
  }

  out.u64(s.conversations.size());
  for (std::size_t index = 0; index < s.conversations.size(); ++index) {
    const auto& conversation = s.conversations[index];
    out.string(conversation.key.view());
    out.u32(conversation.shop);
    out.boolean(conversation.closed_since_session_start);
    for (const bool pending : conversation.first_round_pending) out.boolean(pending);
    out.instant(conversation.last_event);
    for (const auto& round : conversation.rounds) save_round(out, round);
  }
  out.u64(s.free_conversations.size());
  for (const std::uint32_t index : s.free_conversations) out.u32(index);

  s.buffer.save(out);
  s.timers.save(out);
  s.dedup.save(out);
  out.tag(kEngineEnd);
}

// `conversation_hash(shop, key)` and `bucket_count_of(sla)` are the engine's own.
template <typename State, typename ConversationHash, typename BucketCount>
void load(State& s, SnapshotReader& in, ConversationHash conversation_hash,
          BucketCount bucket_count_of) {
  if (!s.shops.empty() || s.conversations.size() != 0 || s.counters.accepted != 0) {
    throw std::logic_error("a snapshot loads only into an engine that has seen no event");
  }
  in.tag(kEngineSection);
  if (in.duration() != s.options.dedup_retention) in.fail("another dedup retention");
  if (in.count(13) != s.platforms.size()) in.fail("another number of platforms");
  for (auto& platform : s.platforms) {
    if (in.string() != platform.rules->platform) in.fail("another platform");
    if (in.u32() != platform.rules->slas.size()) in.fail("another number of SLAs");
    platform.boundary_timer_armed = in.boolean();
  }
  s.watermark = in.instant();
  s.apply_limit = in.instant();
  s.next_sweep = in.instant();
  s.next_generation = in.u32();
  s.counters.accepted = in.u64();
  s.counters.duplicates = in.u64();
  s.counters.late = in.u64();

  const std::size_t shop_count = in.count(24);
  s.shops.resize(shop_count);
  for (std::uint32_t index = 0; index < shop_count; ++index) {
    auto& shop = s.shops[index];
    shop.platform = in.index(static_cast<std::uint32_t>(s.platforms.size()));
    shop.name = in.string();
    auto& platform = s.platforms[shop.platform];
    const auto& slas = platform.rules->slas;
    shop.slas.resize(slas.size());
    for (std::size_t sla = 0; sla < slas.size(); ++sla) {
      shop.slas[sla].window = SlaWindow(bucket_count_of(slas[sla]));
      load_sla_state(in, shop.slas[sla]);
    }
    const std::size_t agents = in.count(17);
    for (std::size_t a = 0; a < agents; ++a) {
      std::string agent = in.string();
      const Instant ts = in.instant();
      const bool online = in.boolean();
      shop.agents.emplace(std::move(agent), decltype(shop.agents.begin()->second){ts, online});
    }
    shop.agents_online = in.u32();
    if (!platform.shop_index.emplace(shop.name, index).second) in.fail("a shop listed twice");
    platform.shops.push_back(index);
  }

  const std::size_t conversation_count = in.count(69);
  const auto shop_limit = static_cast<std::uint32_t>(s.shops.size());
  // Sized once for every slot (free ones included: an upper bound), not doubled on the way.
  s.conversation_index.reserve(conversation_count);
  for (std::size_t index = 0; index < conversation_count; ++index) {
    auto& conversation = s.conversations.emplace_back();
    conversation.key.assign(in.string_view());
    conversation.shop = in.u32();
    conversation.closed_since_session_start = in.boolean();
    for (bool& pending : conversation.first_round_pending) pending = in.boolean();
    conversation.last_event = in.instant();
    for (auto& round : conversation.rounds) load_round(in, round);
    if (!conversation.in_use()) continue;
    if (conversation.shop >= shop_limit) in.fail("a conversation of an unknown shop");
    const std::uint64_t hash = conversation_hash(conversation.shop, conversation.key.view());
    const auto slot = static_cast<std::uint32_t>(index);
    const bool known = s.conversation_index.find(hash, [&](std::uint32_t other) {
      return s.conversations[other].shop == conversation.shop &&
             s.conversations[other].key == conversation.key.view();
    }) != ConversationIndex::kNone;
    if (known) in.fail("a conversation listed twice");
    s.conversation_index.insert(hash, slot);
  }
  const auto conversation_limit = static_cast<std::uint32_t>(s.conversations.size());
  s.free_conversations.resize(in.count(4));
  for (std::uint32_t& index : s.free_conversations) {
    index = in.index(conversation_limit);
    if (s.conversations[index].in_use()) in.fail("a conversation in use on the free list");
  }

  s.buffer.load(in);
  s.timers.load(in);
  s.timers.for_each([&](const TimerEntry& timer) {
    const bool valid =
        timer.kind == TimerKind::kHoursBoundary ? timer.target < s.platforms.size()
        : timer.kind == TimerKind::kRoundStage
            ? timer.target < conversation_limit && timer.lane < kReplyViewCount
            : timer.target < shop_limit && timer.lane < s.shops[timer.target].slas.size();
    if (!valid) in.fail("a timer for something that does not exist");
  });
  s.dedup.load(in);
  in.tag(kEngineEnd);
}

}  // namespace replywatch::engine_codec

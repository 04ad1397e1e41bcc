#include "replywatch/engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "chunked_store.h"
#include "conversation_index.h"
#include "conversation_key.h"
#include "dedup_table.h"
#include "engine_state_carry.h"
#include "engine_state_codec.h"
#include "pending_round_queue.h"
#include "reorder_buffer.h"
#include "replywatch/service_hours.h"
#include "sla_window.h"
#include "timer_queue.h"

namespace replywatch {
namespace {

constexpr std::uint32_t kNoRound = 0;
// Round generations are as wide as a timer's; 0 means "no round".
constexpr std::uint32_t kGenerationMask = TimerEntry::kGenerationMask;
constexpr std::uint32_t kFirstRoundBit = 1U << 31;
// Idle conversations are looked for a few times per forgetting horizon: often enough that memory
// overshoots the horizon by at most a quarter, rarely enough that the scan costs nothing.
constexpr int kSweepsPerHorizon = 4;
constexpr Duration kMinSweepInterval = std::chrono::minutes(1);
// Idle conversations are kept at least this long past their idle timeout, whatever the dedup
// retention, so that session outcomes of late events do not depend on a dedup setting.
constexpr Duration kMinLateHorizon = std::chrono::hours(24);
// Stale entries a (shop, SLA)'s pending queue may hold beyond its live ones before it is compacted.
constexpr std::uint64_t kPendingSlack = 64;

// One reply view's open round within a conversation. 24 bytes.
struct OpenRound {
  Instant start{};
  std::uint32_t generation = kNoRound;  // kFirstRoundBit | generation, or kNoRound
  std::uint32_t scored = 0;             // bit i: SLA i of the platform scores this round
  std::uint32_t decided = 0;
  std::uint32_t warned = 0;

  bool open() const { return generation != kNoRound; }
  // SLAs that score the round and have not decided it.
  std::uint32_t pending() const { return scored & ~decided; }
  bool first() const { return (generation & kFirstRoundBit) != 0; }
  std::uint32_t id() const { return generation & kGenerationMask; }
};

struct Conversation {
  ConversationKey key;
  std::uint32_t shop = 0;
  bool closed_since_session_start = false;
  std::array<bool, kReplyViewCount> first_round_pending{};
  Instant last_event{};
  std::array<OpenRound, kReplyViewCount> rounds{};

  bool in_use() const { return !key.empty(); }
};

struct AgentStatus {
  Instant ts;
  bool online;
};

struct SlaState {
  std::uint64_t rounds = 0;
  std::uint64_t breaches = 0;
  std::uint64_t warnings = 0;
  std::uint64_t open_rounds = 0;
  std::uint64_t at_risk = 0;
  SlaWindow window{1};
  // agent_presence
  bool shortfall = false;
  bool incident = false;
  std::uint32_t shortfall_generation = 0;
  Instant shortfall_start{};
  Duration understaffed{0};
  // reply_time and average_response: the rounds it scores and has not decided, for the oldest.
  PendingRoundQueue pending;
};

struct Shop {
  std::uint32_t platform = 0;
  std::string name;
  std::vector<SlaState> slas;
  std::unordered_map<std::string, AgentStatus> agents;
  std::uint32_t agents_online = 0;
};

struct PlatformRuntime {
  const PlatformRules* rules = nullptr;
  std::unique_ptr<ServiceHours> hours;
  // reply_time and average_response SLAs, by the view they score.
  std::array<std::vector<std::uint32_t>, kReplyViewCount> view_slas;
  std::vector<std::uint32_t> presence_slas;
  bool presence_follows_hours = false;
  bool boundary_timer_armed = false;
  std::vector<std::uint32_t> shops;
  std::unordered_map<std::string, std::uint32_t> shop_index;
  // SLA indices in name order, as figures are listed.
  std::vector<std::uint32_t> slas_by_name;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

std::uint64_t conversation_hash(std::uint32_t shop, std::string_view key) {
  return std::hash<std::string_view>{}(key) ^ (std::uint64_t{shop} * 0x9E3779B97F4A7C15ULL);
}

std::uint32_t bucket_count_of(const Sla& sla) {
  if (sla.kind == SlaKind::kAgentPresence || sla.resolution <= Duration::zero()) return 1;
  return static_cast<std::uint32_t>(std::max<std::int64_t>(1, sla.window / sla.resolution));
}

}  // namespace

struct Engine::State {
  std::shared_ptr<const RuleSet> rules;
  EngineOptions options;
  EffectSink* sink = nullptr;
  EffectSink null_sink;

  std::vector<PlatformRuntime> platforms;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> platform_index;
  std::vector<Shop> shops;
  // Shop indices by platform name, then shop name: figures come out in this order, so taking them
  // needs no sort.
  std::vector<std::uint32_t> shops_by_name;

  // A rule set has a handful of platforms: comparing their names beats hashing the event's.
  static constexpr std::size_t kScannedPlatforms = 16;
  std::optional<std::uint32_t> find_platform(std::string_view name) const {
    if (platforms.size() <= kScannedPlatforms) {
      for (std::uint32_t p = 0; p < platforms.size(); ++p) {
        if (platforms[p].rules->platform == name) return p;
      }
      return std::nullopt;
    }
    const auto found = platform_index.find(name);
    if (found == platform_index.end()) return std::nullopt;
    return found->second;
  }

  ChunkedStore<Conversation> conversations;
  std::vector<std::uint32_t> free_conversations;
  ConversationIndex conversation_index;

  ReorderBuffer buffer;
  TimerQueue timers;
  std::uint32_t next_generation = 1;
  DedupTable dedup;

  Instant watermark = kInstantMin;
  // While a late event is applied: the instant it takes effect for presence, which is now (the
  // watermark), since the shortfalls of the instants before it were already accounted for.
  Instant late_effect = kInstantMin;
  Instant apply_limit = kInstantMax;
  Instant next_sweep = kInstantMin;
  Duration sweep_interval = kMinSweepInterval;
  // How far back a late event may reach and still find its conversation's session.
  Duration late_horizon;
  EventCounters counters;

  State(std::shared_ptr<const RuleSet> rule_set, EngineOptions engine_options);

  // --- time ---
  void run(Instant bound, bool inclusive);
  void fire(const TimerEntry& timer);
  void sweep_conversations(Instant now);

  // --- events ---
  // The public offers take their event by value; from there on it is passed by reference and
  // moved once, into the reorder buffer (each move of an event copies its seven strings).
  OfferResult offer_keyed(Event& event, const EventKey& key);
  OfferResult offer_claimed(Event& event);
  void apply(Event& event);
  std::uint32_t shop_for(std::uint32_t platform, const std::string& name, Instant now);
  std::uint32_t conversation_for(std::uint32_t shop, const std::string& key);
  void on_buyer_message(Conversation& conversation, std::uint32_t index, Instant ts,
                        std::string_view channel);
  void answer(std::uint32_t conversation_index, ReplyView view, Instant ts);
  void on_agent_status(Shop& shop, std::uint32_t shop_index, const Event& event);

  // --- rounds ---
  static bool uses_business_time(const Sla& sla) {
    return sla.hours == HoursMode::kService && sla.outside_hours == OutsideHours::kDefer;
  }
  Instant clock_add(const PlatformRuntime& platform, const Sla& sla, Instant start,
                    Duration amount) const {
    return uses_business_time(sla) ? platform.hours->add_business_time(start, amount)
                                   : start + amount;
  }
  Duration clock_elapsed(const PlatformRuntime& platform, const Sla& sla, Instant start,
                         Instant end) const {
    return uses_business_time(sla) ? platform.hours->business_time_between(start, end)
                                   : end - start;
  }
  Instant next_stage(const PlatformRuntime& platform, const OpenRound& round) const;
  void arm_round(std::uint32_t conversation_index, ReplyView view);
  void fire_round(const TimerEntry& timer);
  void decide(const Conversation& conversation, std::uint32_t sla_index, OpenRound& round,
              Instant now, bool answered, bool met, Duration elapsed);
  // The round stops being open: one RoundEnded per SLA that scores it.
  void end_round(const Conversation& conversation, OpenRound& round, Instant at, bool retired);
  static std::int64_t bucket_of(const PlatformRuntime& platform, const Sla& sla, Instant t);

  // --- presence ---
  // `service_open`, when given, is is_open(now) already worked out by the caller.
  void update_presence(std::uint32_t shop_index, std::uint32_t sla_index, Instant now,
                       std::optional<bool> service_open = std::nullopt);
  void fire_grace_end(const TimerEntry& timer);
  void fire_hours_boundary(std::uint32_t platform_index, Instant now);

  // --- oldest open round per (shop, SLA) ---
  static PendingRoundQueue::Round pending_entry(std::uint32_t conversation_index, ReplyView view,
                                                const OpenRound& round) {
    return {conversation_index, round.id() | (static_cast<std::uint32_t>(view) << 24)};
  }
  // The round's start while `entry` names a round that SLA `sla_index` still has pending.
  std::optional<Instant> pending_start(PendingRoundQueue::Round entry,
                                       std::uint32_t sla_index) const {
    if (entry.conversation >= conversations.size()) return std::nullopt;
    const Conversation& conversation = conversations[entry.conversation];
    const OpenRound& round = conversation.rounds[entry.tag >> 24];
    if (!conversation.in_use() || !round.open() || round.id() != (entry.tag & kGenerationMask) ||
        (round.pending() & (1U << sla_index)) == 0) {
      return std::nullopt;
    }
    return round.start;
  }
  void index_shop_by_name(std::uint32_t shop_index);
  // After a load: the name order and the pending queues from the restored tables.
  void rebuild_derived_state();

  SlaRef ref(std::uint32_t shop_index, std::uint32_t sla_index) const {
    return SlaRef{shops[shop_index].platform, shop_index, sla_index};
  }
};

Engine::State::State(std::shared_ptr<const RuleSet> rule_set, EngineOptions engine_options)
    : rules(std::move(rule_set)),
      options(engine_options),
      sink(&null_sink),
      late_horizon(std::max(options.dedup_retention, kMinLateHorizon)) {
  platforms.resize(rules->platforms.size());
  for (std::size_t p = 0; p < rules->platforms.size(); ++p) {
    const PlatformRules& platform_rules = rules->platforms[p];
    PlatformRuntime& runtime = platforms[p];
    runtime.rules = &platform_rules;
    runtime.hours = std::make_unique<ServiceHours>(
        platform_rules.service_hours ? &*platform_rules.service_hours : nullptr,
        platform_rules.timezone);
    for (std::uint32_t s = 0; s < platform_rules.slas.size(); ++s) {
      const Sla& sla = platform_rules.slas[s];
      if (sla.kind == SlaKind::kAgentPresence) {
        runtime.presence_slas.push_back(s);
        if (sla.hours == HoursMode::kService) runtime.presence_follows_hours = true;
      } else {
        runtime.view_slas[static_cast<std::size_t>(sla.replies)].push_back(s);
      }
    }
    platform_index.emplace(platform_rules.platform, static_cast<std::uint32_t>(p));
    runtime.slas_by_name.resize(platform_rules.slas.size());
    for (std::uint32_t s = 0; s < platform_rules.slas.size(); ++s) runtime.slas_by_name[s] = s;
    std::sort(runtime.slas_by_name.begin(), runtime.slas_by_name.end(),
              [&](std::uint32_t a, std::uint32_t b) {
                return platform_rules.slas[a].name < platform_rules.slas[b].name;
              });
    sweep_interval =
        std::max(sweep_interval, (platform_rules.idle_timeout + late_horizon) / kSweepsPerHorizon);
  }
}

void Engine::State::run(Instant bound, bool inclusive) {
  const Instant limit = std::min(bound, apply_limit);
  const bool limit_inclusive = inclusive || apply_limit < bound;
  auto due_by = [&](Instant t) { return t < limit || (limit_inclusive && t == limit); };
  for (;;) {
    const bool event_ready = !buffer.empty() && due_by(buffer.front_ts());
    const bool timer_ready = !timers.empty() && due_by(timers.front().due);
    if (!event_ready && !timer_ready) break;
    // Events win ties: a reply at exactly the deadline is met.
    if (event_ready && (!timer_ready || buffer.front_ts() <= timers.front().due)) {
      // Applied where it waited, then dropped: no move out of the buffer.
      Event& event = buffer.front();
      if (event.ts >= next_sweep) sweep_conversations(event.ts);
      apply(event);
      buffer.drop_front();
    } else {
      fire(timers.pop());
    }
  }
}

void Engine::State::fire(const TimerEntry& timer) {
  switch (timer.kind) {
    case TimerKind::kHoursBoundary:
      fire_hours_boundary(timer.target, timer.due);
      break;
    case TimerKind::kRoundStage:
      fire_round(timer);
      break;
    case TimerKind::kGraceEnd:
      fire_grace_end(timer);
      break;
  }
}

void Engine::State::sweep_conversations(Instant now) {
  next_sweep = now + sweep_interval;
  // A conversation whose rounds are all decided, idle past its timeout, would start a new
  // session on its next buyer message anyway, retiring those rounds, exactly as a conversation
  // never seen. It is kept for the late horizon longer, so that an event arriving late (a
  // retried webhook) still finds the session it belongs to. Its decided rounds end there as
  // retired, so that whatever follows them (alerts) ends too.
  for (std::uint32_t index = 0; index < conversations.size(); ++index) {
    Conversation& conversation = conversations[index];
    if (!conversation.in_use()) continue;
    const Duration idle_timeout = platforms[shops[conversation.shop].platform].rules->idle_timeout;
    const bool any_undecided = std::any_of(conversation.rounds.begin(), conversation.rounds.end(),
                                           [](const OpenRound& r) { return r.pending() != 0; });
    if (!any_undecided && now - conversation.last_event > idle_timeout + late_horizon) {
      for (OpenRound& round : conversation.rounds) {
        if (round.open()) end_round(conversation, round, now, true);
      }
      conversation_index.erase(conversation_hash(conversation.shop, conversation.key.view()),
                               index);
      conversation = Conversation{};
      free_conversations.push_back(index);
    }
  }
}

std::uint32_t Engine::State::shop_for(std::uint32_t platform_index_value, const std::string& name,
                                      Instant now) {
  PlatformRuntime& platform = platforms[platform_index_value];
  auto found = platform.shop_index.find(name);
  if (found != platform.shop_index.end()) return found->second;

  const auto index = static_cast<std::uint32_t>(shops.size());
  Shop& shop = shops.emplace_back();
  shop.platform = platform_index_value;
  shop.name = name;
  shop.slas.resize(platform.rules->slas.size());
  for (std::size_t s = 0; s < platform.rules->slas.size(); ++s) {
    shop.slas[s].window = SlaWindow(bucket_count_of(platform.rules->slas[s]));
  }
  platform.shop_index.emplace(name, index);
  platform.shops.push_back(index);
  index_shop_by_name(index);

  // Presence is tracked from the shop's first event on (for a late event: from now).
  const Instant tracking_start = std::max(now, late_effect);
  for (std::uint32_t sla : platform.presence_slas) update_presence(index, sla, tracking_start);
  if (platform.presence_follows_hours && !platform.boundary_timer_armed) {
    platform.boundary_timer_armed = true;
    timers.push(TimerEntry::hours_boundary(platform.hours->next_change_after(tracking_start),
                                           platform_index_value));
  }
  return index;
}

void Engine::State::index_shop_by_name(std::uint32_t shop_index) {
  auto named_before = [&](std::uint32_t a, std::uint32_t b) {
    const std::string& platform_a = platforms[shops[a].platform].rules->platform;
    const std::string& platform_b = platforms[shops[b].platform].rules->platform;
    if (platform_a != platform_b) return platform_a < platform_b;
    return shops[a].name < shops[b].name;
  };
  shops_by_name.insert(
      std::upper_bound(shops_by_name.begin(), shops_by_name.end(), shop_index, named_before),
      shop_index);
}

void Engine::State::rebuild_derived_state() {
  shops_by_name.clear();
  for (std::uint32_t shop_index = 0; shop_index < shops.size(); ++shop_index) {
    index_shop_by_name(shop_index);
    for (SlaState& state : shops[shop_index].slas) state.pending.clear();
  }
  // Pending rounds pushed oldest first, so that they all go to the FIFOs.
  struct Pending {
    Instant start;
    std::uint32_t conversation;
    std::uint32_t view;
  };
  std::vector<Pending> pending;
  for (std::uint32_t index = 0; index < conversations.size(); ++index) {
    const Conversation& conversation = conversations[index];
    if (!conversation.in_use()) continue;
    for (std::uint32_t v = 0; v < kReplyViewCount; ++v) {
      const OpenRound& round = conversation.rounds[v];
      if (round.open() && round.pending() != 0) pending.push_back({round.start, index, v});
    }
  }
  std::sort(pending.begin(), pending.end(),
            [](const Pending& a, const Pending& b) { return a.start < b.start; });
  for (const Pending& entry : pending) {
    const Conversation& conversation = conversations[entry.conversation];
    const OpenRound& round = conversation.rounds[entry.view];
    for (std::uint32_t left = round.pending(); left != 0; left &= left - 1) {
      const auto sla_index = static_cast<std::uint32_t>(__builtin_ctz(left));
      shops[conversation.shop].slas[sla_index].pending.push(
          pending_entry(entry.conversation, static_cast<ReplyView>(entry.view), round),
          round.start);
    }
  }
}

std::uint32_t Engine::State::conversation_for(std::uint32_t shop, const std::string& key) {
  const std::uint64_t hash = conversation_hash(shop, key);
  const std::uint32_t found = conversation_index.find(hash, [&](std::uint32_t index) {
    return conversations[index].shop == shop && conversations[index].key == key;
  });
  if (found != ConversationIndex::kNone) return found;
  std::uint32_t index = 0;
  if (!free_conversations.empty()) {
    index = free_conversations.back();
    free_conversations.pop_back();
  } else {
    index = static_cast<std::uint32_t>(conversations.size());
    conversations.emplace_back();
  }
  Conversation& conversation = conversations[index];
  conversation.key.assign(key);
  conversation.shop = shop;
  conversation.closed_since_session_start = false;
  conversation.first_round_pending = {true, true};
  conversation.last_event = kInstantMin;
  conversation_index.insert(hash, index);
  return index;
}

void Engine::State::apply(Event& event) {
  const std::uint32_t platform_index_value = *find_platform(event.platform);
  const std::uint32_t shop_index = shop_for(platform_index_value, event.shop, event.ts);
  if (event.type == EventType::kAgentStatus) {
    on_agent_status(shops[shop_index], shop_index, event);
    return;
  }
  const std::uint32_t index = conversation_for(shop_index, event.conversation);
  switch (event.type) {
    case EventType::kBuyerMessage:
      on_buyer_message(conversations[index], index, event.ts, event.channel);
      break;
    case EventType::kAgentMessage:
      answer(index, ReplyView::kCounted, event.ts);
      answer(index, ReplyView::kHuman, event.ts);
      break;
    case EventType::kBotMessage: {
      const auto& bots = platforms[platform_index_value].rules->counted_bots;
      if (std::find(bots.begin(), bots.end(), event.bot) != bots.end()) {
        answer(index, ReplyView::kCounted, event.ts);
      }
      break;
    }
    case EventType::kConversationClosed:
      conversations[index].closed_since_session_start = true;
      break;
    case EventType::kAgentStatus:
      break;
  }
  Conversation& conversation = conversations[index];
  conversation.last_event = std::max(conversation.last_event, event.ts);
}

void Engine::State::on_buyer_message(Conversation& conversation, std::uint32_t index, Instant ts,
                                     std::string_view channel) {
  const PlatformRuntime& platform = platforms[shops[conversation.shop].platform];
  const bool new_session = conversation.last_event == kInstantMin ||
                           conversation.closed_since_session_start ||
                           ts - conversation.last_event > platform.rules->idle_timeout;
  if (new_session) {
    conversation.closed_since_session_start = false;
    conversation.first_round_pending = {true, true};
  }
  for (std::size_t v = 0; v < kReplyViewCount; ++v) {
    const auto& slas = platform.view_slas[v];
    OpenRound& round = conversation.rounds[v];
    // Every SLA scoring it has decided it: it keeps its outcome and makes room for this
    // session's first round. Undecided, it stays open into the new session.
    if (new_session && round.open() && round.pending() == 0)
      end_round(conversation, round, ts, true);
    if (slas.empty() || round.open()) continue;
    const bool first = conversation.first_round_pending[v];
    conversation.first_round_pending[v] = false;
    const std::uint32_t generation = next_generation;
    next_generation = (next_generation + 1) & kGenerationMask;
    if (next_generation == kNoRound) next_generation = 1;
    round = OpenRound{};
    round.start = ts;
    round.generation = generation | (first ? kFirstRoundBit : 0);
    for (std::uint32_t s : slas) {
      const Sla& sla = platform.rules->slas[s];
      if (sla.rounds == RoundScope::kFirst && !first) continue;
      if (!sla.channels.empty() &&
          std::find(sla.channels.begin(), sla.channels.end(), channel) == sla.channels.end()) {
        continue;
      }
      if (sla.hours == HoursMode::kService && sla.outside_hours == OutsideHours::kExclude &&
          !platform.hours->is_open(ts)) {
        continue;
      }
      round.scored |= 1U << s;
      SlaState& state = shops[conversation.shop].slas[s];
      ++state.open_rounds;
      state.pending.push(pending_entry(index, static_cast<ReplyView>(v), round), ts);
      if (state.pending.size() > 2 * state.open_rounds + kPendingSlack) {
        state.pending.compact(
            [&](PendingRoundQueue::Round entry) { return pending_start(entry, s); });
      }
    }
    arm_round(index, static_cast<ReplyView>(v));
  }
}

Instant Engine::State::next_stage(const PlatformRuntime& platform, const OpenRound& round) const {
  Instant next = kInstantMax;
  const std::uint32_t pending = round.scored & ~round.decided;
  for (std::uint32_t s = 0; s < platform.rules->slas.size(); ++s) {
    if ((pending & (1U << s)) == 0) continue;
    const Sla& sla = platform.rules->slas[s];
    if (sla.kind == SlaKind::kReplyTime) {
      if (sla.warn_before && (round.warned & (1U << s)) == 0) {
        next =
            std::min(next, clock_add(platform, sla, round.start, sla.deadline - *sla.warn_before));
      }
      next = std::min(next, clock_add(platform, sla, round.start, sla.deadline));
    } else {
      next = std::min(next, clock_add(platform, sla, round.start, sla.unanswered_cost));
    }
  }
  return next;
}

void Engine::State::arm_round(std::uint32_t conversation_index_value, ReplyView view) {
  const Conversation& conversation = conversations[conversation_index_value];
  const OpenRound& round = conversation.rounds[static_cast<std::size_t>(view)];
  const PlatformRuntime& platform = platforms[shops[conversation.shop].platform];
  timers.push(TimerEntry::round_stage(next_stage(platform, round), conversation_index_value,
                                      static_cast<std::uint32_t>(view), round.id()));
}

void Engine::State::fire_round(const TimerEntry& timer) {
  const std::uint32_t conversation_index_value = timer.target;
  const Instant now = timer.due;
  if (conversation_index_value >= conversations.size()) return;
  Conversation& conversation = conversations[conversation_index_value];
  const auto view = static_cast<ReplyView>(timer.lane);
  OpenRound& round = conversation.rounds[static_cast<std::size_t>(view)];
  if (!conversation.in_use() || !round.open() || round.id() != timer.generation) {
    return;  // answered, or the slot now holds another round
  }
  const std::uint32_t shop_index = conversation.shop;
  const PlatformRuntime& platform = platforms[shops[shop_index].platform];
  for (std::uint32_t s = 0; s < platform.rules->slas.size(); ++s) {
    const std::uint32_t bit = 1U << s;
    if ((round.scored & ~round.decided & bit) == 0) continue;
    const Sla& sla = platform.rules->slas[s];
    SlaState& state = shops[shop_index].slas[s];
    if (sla.kind == SlaKind::kReplyTime) {
      if (sla.warn_before && (round.warned & bit) == 0) {
        const Instant warn_at =
            clock_add(platform, sla, round.start, sla.deadline - *sla.warn_before);
        if (warn_at <= now) {
          round.warned |= bit;
          ++state.warnings;
          ++state.at_risk;
          sink->on_warning(WarningRaised{ref(shop_index, s), conversation.key.view(), round.start,
                                         now, clock_add(platform, sla, round.start, sla.deadline)});
        }
      }
      if (clock_add(platform, sla, round.start, sla.deadline) <= now) {
        decide(conversation, s, round, now, false, false, sla.deadline);
      }
    } else if (clock_add(platform, sla, round.start, sla.unanswered_cost) <= now) {
      decide(conversation, s, round, now, false, false, sla.unanswered_cost);
    }
  }
  arm_round(conversation_index_value, view);
}

std::int64_t Engine::State::bucket_of(const PlatformRuntime& platform, const Sla& sla, Instant t) {
  if (sla.resolution >= std::chrono::days(1)) return platform.hours->local_day(t);
  const std::int64_t ms = t.time_since_epoch().count();
  const std::int64_t width = sla.resolution.count();
  return ms >= 0 ? ms / width : -((-ms + width - 1) / width);
}

void Engine::State::decide(const Conversation& conversation, std::uint32_t sla_index,
                           OpenRound& round, Instant now, bool answered, bool met,
                           Duration elapsed) {
  const std::uint32_t shop_index = conversation.shop;
  const std::uint32_t bit = 1U << sla_index;
  round.decided |= bit;
  const PlatformRuntime& platform = platforms[shops[shop_index].platform];
  const Sla& sla = platform.rules->slas[sla_index];
  SlaState& state = shops[shop_index].slas[sla_index];
  --state.open_rounds;
  state.pending.prune(
      [&](PendingRoundQueue::Round entry) { return pending_start(entry, sla_index); });
  if ((round.warned & bit) != 0) --state.at_risk;
  ++state.rounds;
  Duration cost{0};
  bool breached = false;
  if (sla.kind == SlaKind::kReplyTime) {
    breached = !met;
    if (breached) ++state.breaches;
  } else {
    cost = std::min(elapsed, sla.unanswered_cost);
  }
  state.window.add(bucket_of(platform, sla, round.start), bucket_of(platform, sla, now), met,
                   breached, cost);
  sink->on_round_decided(RoundDecided{ref(shop_index, sla_index), conversation.key.view(),
                                      round.start, now, answered, met, elapsed});
}

void Engine::State::end_round(const Conversation& conversation, OpenRound& round, Instant at,
                              bool retired) {
  for (std::uint32_t scored = round.scored; scored != 0; scored &= scored - 1) {
    const auto sla_index = static_cast<std::uint32_t>(__builtin_ctz(scored));
    sink->on_round_ended(RoundEnded{ref(conversation.shop, sla_index), conversation.key.view(),
                                    round.start, at, retired});
  }
  round = OpenRound{};
}

void Engine::State::answer(std::uint32_t conversation_index_value, ReplyView view, Instant ts) {
  Conversation& conversation = conversations[conversation_index_value];
  OpenRound& round = conversation.rounds[static_cast<std::size_t>(view)];
  // A late reply older than the round it would answer belongs before it.
  if (!round.open() || ts < round.start) return;
  const std::uint32_t shop_index = conversation.shop;
  const PlatformRuntime& platform = platforms[shops[shop_index].platform];
  for (std::uint32_t s = 0; s < platform.rules->slas.size(); ++s) {
    if ((round.scored & ~round.decided & (1U << s)) == 0) continue;
    const Sla& sla = platform.rules->slas[s];
    const Duration elapsed = clock_elapsed(platform, sla, round.start, ts);
    if (sla.kind == SlaKind::kReplyTime) {
      const bool met = ts <= clock_add(platform, sla, round.start, sla.deadline);
      decide(conversation, s, round, ts, true, met, elapsed);
    } else {
      decide(conversation, s, round, ts, true, true, elapsed);
    }
  }
  end_round(conversation, round, ts, false);
}

void Engine::State::on_agent_status(Shop& shop, std::uint32_t shop_index, const Event& event) {
  auto [it, inserted] = shop.agents.try_emplace(event.agent, AgentStatus{event.ts, false});
  AgentStatus& status = it->second;
  if (!inserted && event.ts < status.ts) return;  // an older status never overrides a newer one
  const bool was_online = !inserted && status.online;
  status = AgentStatus{event.ts, event.online};
  if (was_online != event.online) {
    if (event.online) {
      ++shop.agents_online;
    } else {
      --shop.agents_online;
    }
  }
  const PlatformRuntime& platform = platforms[shop.platform];
  for (std::uint32_t sla : platform.presence_slas) {
    update_presence(shop_index, sla, std::max(event.ts, late_effect));
  }
}

void Engine::State::update_presence(std::uint32_t shop_index, std::uint32_t sla_index, Instant now,
                                    std::optional<bool> service_open) {
  Shop& shop = shops[shop_index];
  const PlatformRuntime& platform = platforms[shop.platform];
  const Sla& sla = platform.rules->slas[sla_index];
  SlaState& state = shop.slas[sla_index];
  const bool in_hours = sla.hours == HoursMode::kAlways ||
                        (service_open ? *service_open : platform.hours->is_open(now));
  const bool short_of_agents = in_hours && shop.agents_online < sla.min_online;
  if (short_of_agents && !state.shortfall) {
    state.shortfall = true;
    state.shortfall_start = now;
    state.shortfall_generation = (state.shortfall_generation + 1) & TimerEntry::kGenerationMask;
    timers.push(
        TimerEntry::grace_end(now + sla.grace, shop_index, sla_index, state.shortfall_generation));
  } else if (!short_of_agents && state.shortfall) {
    state.understaffed += now - state.shortfall_start;
    state.shortfall = false;
    state.incident = false;
  }
}

void Engine::State::fire_grace_end(const TimerEntry& timer) {
  const std::uint32_t shop_index = timer.target;
  const std::uint32_t sla_index = timer.lane;
  const Instant now = timer.due;
  SlaState& state = shops[shop_index].slas[sla_index];
  if (!state.shortfall || state.incident || state.shortfall_generation != timer.generation) {
    return;
  }
  state.incident = true;
  ++state.breaches;
  sink->on_presence_incident(
      PresenceIncident{ref(shop_index, sla_index), state.shortfall_start, now});
}

void Engine::State::fire_hours_boundary(std::uint32_t platform_index_value, Instant now) {
  PlatformRuntime& platform = platforms[platform_index_value];
  // Every shop shares the platform's hours; only shops short of agents, or in a shortfall that
  // closing time ends, can change. This keeps a long jump in event time cheap per shop.
  const bool open = platform.hours->is_open(now);
  for (std::uint32_t shop_index : platform.shops) {
    const Shop& shop = shops[shop_index];
    for (std::uint32_t sla : platform.presence_slas) {
      const Sla& rule = platform.rules->slas[sla];
      if (rule.hours != HoursMode::kService) continue;
      if (shop.agents_online >= rule.min_online && !shop.slas[sla].shortfall) continue;
      update_presence(shop_index, sla, now, open);
    }
  }
  timers.push(
      TimerEntry::hours_boundary(platform.hours->next_change_after(now), platform_index_value));
}

// ---------------------------------------------------------------------------------------------

Engine::Engine(std::shared_ptr<const RuleSet> rules, EngineOptions options)
    : state_(std::make_unique<State>(std::move(rules), options)) {}

Engine::~Engine() = default;

const RuleSet& Engine::rules() const { return *state_->rules; }

void Engine::set_effect_sink(EffectSink* sink) {
  state_->sink = sink != nullptr ? sink : &state_->null_sink;
}

OfferResult Engine::offer(Event event) {
  const EventKey key = key_of(event);
  return state_->offer_keyed(event, key);
}

EventKey Engine::key_of(const Event& event) const {
  const State& s = *state_;
  const auto platform = s.find_platform(event.platform);
  if (!platform) {
    throw std::invalid_argument("event for a platform without rules: " + event.platform);
  }
  const Hash128 hash = DedupTable::key_of(*platform, event.shop, event.id);
  return EventKey{hash.low, hash.high};
}

OfferResult Engine::offer(Event event, const EventKey& key) {
  return state_->offer_keyed(event, key);
}

OfferResult Engine::State::offer_keyed(Event& event, const EventKey& key) {
  // A key stops making duplicates once the watermark has passed its first ts + retention.
  if (dedup.insert_unless_present(Hash128{key.low, key.high}, event.ts + options.dedup_retention,
                                  watermark)) {
    ++counters.duplicates;
    return OfferResult{true, false};
  }
  return offer_claimed(event);
}

bool Engine::claim(const EventKey& key, Instant ts, Instant as_of) {
  State& s = *state_;
  return s.dedup.insert_unless_present(Hash128{key.low, key.high}, ts + s.options.dedup_retention,
                                       std::max(as_of, s.watermark));
}

void Engine::prefetch(const EventKey& key) const {
  state_->dedup.prefetch(Hash128{key.low, key.high});
}

void Engine::release(const EventKey& key) { state_->dedup.forget(Hash128{key.low, key.high}); }

OfferResult Engine::offer_claimed(Event event) { return state_->offer_claimed(event); }

OfferResult Engine::State::offer_claimed(Event& event) {
  ++counters.accepted;

  if (event.ts < watermark) {
    ++counters.late;
    if (event.ts <= apply_limit) {
      late_effect = std::min(watermark, apply_limit);
      apply(event);
      late_effect = kInstantMin;
    }
    return OfferResult{false, true};
  }
  buffer.push(std::move(event));
  return OfferResult{false, false};
}

bool Engine::is_duplicate(const Event& event) const {
  const State& s = *state_;
  if (!s.find_platform(event.platform)) return false;
  return is_duplicate(key_of(event));
}

bool Engine::is_duplicate(const EventKey& key) const {
  return state_->dedup.contains(Hash128{key.low, key.high}, state_->watermark);
}

void Engine::advance(Instant watermark) {
  State& s = *state_;
  if (watermark > s.watermark) s.watermark = watermark;
  s.run(s.watermark, false);
}

void Engine::advance_through(Instant until) {
  State& s = *state_;
  s.run(until, true);
  // Everything at `until` is applied: a later event at `until` would be late.
  const Instant after = until + Duration(1);
  if (after > s.watermark) s.watermark = after;
}

void Engine::set_apply_limit(Instant until) { state_->apply_limit = until; }

Instant Engine::watermark() const { return state_->watermark; }

std::optional<Instant> Engine::next_due() const {
  const State& s = *state_;
  std::optional<Instant> next;
  if (!s.buffer.empty() && s.buffer.front_ts() <= s.apply_limit) next = s.buffer.front_ts();
  if (!s.timers.empty() && s.timers.front().due <= s.apply_limit &&
      (!next || s.timers.front().due < *next)) {
    next = s.timers.front().due;
  }
  return next;
}

std::vector<SlaFigures> Engine::figures(Instant at) const {
  std::vector<SlaFigures> out;
  std::size_t series = 0;
  for (const Shop& shop : state_->shops) series += shop.slas.size();
  out.reserve(series);
  figures_after(at, {}, {}, series, out);
  return out;
}

bool Engine::figures_after(Instant at, std::string_view after_platform, std::string_view after_shop,
                           std::size_t max_series, std::vector<SlaFigures>& out) const {
  const State& s = *state_;
  auto first = s.shops_by_name.begin();
  if (!after_platform.empty()) {
    first = std::upper_bound(
        s.shops_by_name.begin(), s.shops_by_name.end(), std::pair{after_platform, after_shop},
        [&](const std::pair<std::string_view, std::string_view>& name, std::uint32_t shop_index) {
          const Shop& shop = s.shops[shop_index];
          const std::string& platform = s.platforms[shop.platform].rules->platform;
          if (name.first != platform) return name.first < platform;
          return name.second < shop.name;
        });
  }
  const std::size_t limit = out.size() + max_series;
  // Shops and SLAs are kept in name order, and each (shop, SLA) keeps its oldest open round at
  // hand: one step per series, whatever the number of conversations.
  for (auto next = first; next != s.shops_by_name.end(); ++next) {
    if (next != first && out.size() >= limit) return true;
    const std::uint32_t shop_index = *next;
    const Shop& shop = s.shops[shop_index];
    const PlatformRuntime& platform = s.platforms[shop.platform];
    for (const std::uint32_t sla_index : platform.slas_by_name) {
      const Sla& sla = platform.rules->slas[sla_index];
      const SlaState& state = shop.slas[sla_index];
      SlaFigures f;
      f.ref = s.ref(shop_index, sla_index);
      f.platform = platform.rules->platform;
      f.shop = shop.name;
      f.sla = sla.name;
      f.kind = sla.kind;
      f.agents_online = shop.agents_online;
      if (sla.kind == SlaKind::kAgentPresence) {
        f.breaches = state.breaches;
        Duration understaffed = state.understaffed;
        if (state.shortfall && at > state.shortfall_start)
          understaffed += at - state.shortfall_start;
        f.understaffed_seconds = to_seconds(understaffed);
        f.violating = state.incident;
        out.push_back(std::move(f));
        continue;
      }
      f.rounds = state.rounds;
      f.open_rounds = state.open_rounds;
      f.oldest_open_start = state.pending.oldest(
          [&](PendingRoundQueue::Round entry) { return s.pending_start(entry, sla_index); });
      const WindowTotals totals = state.window.totals(s.bucket_of(platform, sla, at));
      f.window_rounds = totals.decided;
      if (sla.kind == SlaKind::kReplyTime) {
        f.breaches = state.breaches;
        f.warnings = state.warnings;
        f.at_risk_rounds = state.at_risk;
        f.compliance_ratio = totals.decided == 0 ? 1.0
                                                 : static_cast<double>(totals.met) /
                                                       static_cast<double>(totals.decided);
        if (sla.objective) {
          const auto allowed = static_cast<std::int64_t>(
              std::floor(static_cast<double>(totals.decided) * (1.0 - *sla.objective) + 1e-9));
          f.error_budget_remaining_rounds = allowed - static_cast<std::int64_t>(totals.breached);
          f.violating = f.compliance_ratio < *sla.objective && totals.decided >= sla.min_rounds;
        }
      } else {
        f.average_response_seconds =
            totals.decided == 0 ? 0.0
                                : to_seconds(totals.cost) / static_cast<double>(totals.decided);
        f.violating = totals.decided >= sla.min_rounds &&
                      totals.cost > sla.max_average * static_cast<std::int64_t>(totals.decided);
      }
      out.push_back(std::move(f));
    }
  }
  return false;
}

// The open rounds are the waiting ones not yet decided: one walk serves both lists.
void Engine::for_each_open_round(const std::function<void(const OpenRoundView&)>& visit) const {
  for_each_waiting_round([&](const WaitingRoundView& round) {
    if (round.overdue) return;
    visit(OpenRoundView{round.ref, round.conversation, round.start, round.due, round.at_risk});
  });
}

void Engine::for_each_waiting_round(
    const std::function<void(const WaitingRoundView&)>& visit) const {
  const State& s = *state_;
  for (std::size_t index = 0; index < s.conversations.size(); ++index) {
    const Conversation& conversation = s.conversations[index];
    if (!conversation.in_use()) continue;
    const PlatformRuntime& platform = s.platforms[s.shops[conversation.shop].platform];
    for (const OpenRound& round : conversation.rounds) {
      if (!round.open() || round.scored == 0) continue;
      for (std::uint32_t sla_index = 0; sla_index < platform.rules->slas.size(); ++sla_index) {
        const std::uint32_t bit = 1U << sla_index;
        if ((round.scored & bit) == 0) continue;
        const Sla& sla = platform.rules->slas[sla_index];
        const bool reply_time = sla.kind == SlaKind::kReplyTime;
        WaitingRoundView view;
        view.ref = s.ref(conversation.shop, sla_index);
        view.conversation = conversation.key.view();
        view.start = round.start;
        view.due = s.clock_add(platform, sla, round.start,
                               reply_time ? sla.deadline : sla.unanswered_cost);
        if (reply_time && sla.warn_before) {
          view.warn_at = s.clock_add(platform, sla, round.start, sla.deadline - *sla.warn_before);
        }
        view.at_risk = (round.warned & bit) != 0;
        view.overdue = (round.decided & bit) != 0;
        visit(view);
      }
    }
  }
}

const EventCounters& Engine::counters() const { return state_->counters; }

std::size_t Engine::shop_count() const { return state_->shops.size(); }

const std::string& Engine::shop_name(std::uint32_t shop) const {
  return state_->shops.at(shop).name;
}

Engine::MemoryStats Engine::memory_stats() const {
  const State& s = *state_;
  MemoryStats stats;
  stats.conversations = s.conversation_index.size();
  for (std::size_t index = 0; index < s.conversations.size(); ++index) {
    for (const OpenRound& round : s.conversations[index].rounds) {
      if (round.open()) ++stats.open_rounds;
    }
  }
  stats.buffered_events = s.buffer.size();
  stats.timers = s.timers.size();
  stats.dedup_entries = s.dedup.size();
  return stats;
}

std::size_t Engine::buffered_events() const { return state_->buffer.size(); }

std::uint32_t Engine::shop_platform(std::uint32_t shop) const {
  return state_->shops.at(shop).platform;
}

void Engine::carry_from(const Engine& previous, const std::vector<CarriedSla>& carried,
                        const std::function<bool(std::uint32_t, const std::string&)>& keep_shop) {
  engine_carry::carry(*state_, *previous.state_, carried, keep_shop);
}

void Engine::save(SnapshotWriter& out) const { engine_codec::save(*state_, out); }

void Engine::load(SnapshotReader& in) {
  engine_codec::load(*state_, in, conversation_hash, bucket_count_of);
  state_->rebuild_derived_state();
}

}  // namespace replywatch

// The rule engine (docs/rules.md): events and instants in, effects and figures out.
//
// The engine owns no clock and does no I/O. Callers move time forward with advance(); the live
// daemon passes wall clock - allowed lateness, replay passes the largest event time seen -
// allowed lateness. Both therefore get identical outcomes for identical event streams.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replywatch/event.h"
#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace replywatch {

class SnapshotReader;
class SnapshotWriter;

struct EngineOptions {
  // How long an accepted (platform, shop, id) keeps making later copies duplicates, measured
  // against the watermark in event time.
  Duration dedup_retention = std::chrono::hours(24);
};

// Indices into the engine's own tables; stable for the engine's lifetime.
struct SlaRef {
  std::uint32_t platform = 0;  // index in RuleSet::platforms
  std::uint32_t shop = 0;      // engine-wide shop index, see Engine::shop_name
  std::uint32_t sla = 0;       // index in PlatformRules::slas
};

struct RoundDecided {
  SlaRef ref;
  std::string_view conversation;  // valid during the call
  Instant start;
  Instant at;        // when it was decided
  bool answered;     // false: decided by its deadline or cost cap
  bool met;          // reply_time: answered within the deadline
  Duration elapsed;  // on the round's clock; for unanswered rounds, the deadline or cost cap
};

struct WarningRaised {
  SlaRef ref;
  std::string_view conversation;  // valid during the call
  Instant start;
  Instant at;
  Instant due;
};

// A scored round stopped being open: a reply answered it, or a new session retired it after
// every SLA scoring it had decided it (docs/rules.md, "Sessions"). One per SLA that scores the
// round.
struct RoundEnded {
  SlaRef ref;
  std::string_view conversation;  // valid during the call
  Instant start;
  Instant at;    // the answer, or the buyer message that began the new session
  bool retired;  // false: answered
};

struct PresenceIncident {
  SlaRef ref;
  Instant shortfall_start;
  Instant at;  // the breach instant: shortfall start + grace
};

// Receives what happens as it happens (metrics, logs, tests). Called synchronously from
// offer() and advance(); must not call back into the engine.
class EffectSink {
 public:
  virtual ~EffectSink() = default;
  virtual void on_round_decided(const RoundDecided& /*effect*/) {}
  virtual void on_warning(const WarningRaised& /*effect*/) {}
  virtual void on_round_ended(const RoundEnded& /*effect*/) {}
  virtual void on_presence_incident(const PresenceIncident& /*effect*/) {}
};

// An event's dedup identity: (platform, shop, id) hashed once. The daemon asks is_duplicate
// before it journals, then offers with the same key, so each event is hashed once.
struct EventKey {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
};

struct OfferResult {
  bool duplicate = false;
  bool late = false;  // older than the watermark: applied at once, counted
};

// Figures of one (platform, shop, SLA) at an instant, as in the replay report (docs/operations.md).
struct SlaFigures {
  SlaRef ref;
  std::string platform;
  std::string shop;
  std::string sla;
  SlaKind kind = SlaKind::kReplyTime;
  std::uint64_t rounds = 0;
  std::uint64_t breaches = 0;
  std::uint64_t warnings = 0;
  std::uint64_t open_rounds = 0;
  std::uint64_t at_risk_rounds = 0;
  std::optional<Instant> oldest_open_start;
  std::uint64_t window_rounds = 0;
  double compliance_ratio = 0.0;
  double average_response_seconds = 0.0;
  std::optional<std::int64_t> error_budget_remaining_rounds;
  double understaffed_seconds = 0.0;
  bool violating = false;
  std::uint32_t agents_online = 0;
};

// One scored round that no SLA has decided yet, as the shift lead's list shows it.
struct OpenRoundView {
  SlaRef ref;
  std::string_view conversation;  // valid until the engine next changes
  Instant start;
  // reply_time: the deadline on the round's clock; average_response: where the cost cap is
  // reached.
  Instant due;
  bool at_risk = false;  // reply_time past its warning point
};

// One scored round a buyer is still waiting on, as the shift lead's queue shows it: not decided
// yet, or decided by its deadline (reply_time) or cost cap (average_response) and unanswered.
struct WaitingRoundView {
  SlaRef ref;
  std::string_view conversation;  // valid until the engine next changes
  Instant start;
  Instant due;                     // as OpenRoundView::due
  std::optional<Instant> warn_at;  // reply_time with warn_before: its warning point
  bool at_risk = false;            // past its warning point (as OpenRoundView::at_risk)
  bool overdue = false;            // decided by `due` while unanswered
};

struct EventCounters {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t late = 0;
};

// An SLA whose rule did not change across a reload (replywatch/rule_fingerprint.h,
// unchanged_slas): `platform` and `sla` index the new rules, `from_*` the previous ones.
struct CarriedSla {
  std::uint32_t platform = 0;
  std::uint32_t sla = 0;
  std::uint32_t from_platform = 0;
  std::uint32_t from_sla = 0;

  friend bool operator==(const CarriedSla&, const CarriedSla&) = default;
};

class Engine {
 public:
  explicit Engine(std::shared_ptr<const RuleSet> rules, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const RuleSet& rules() const;
  void set_effect_sink(EffectSink* sink);

  // Takes one validated event whose platform is loaded. Duplicates are dropped; late events
  // (ts before the watermark) are applied at once; the rest wait in the reorder buffer.
  OfferResult offer(Event event);
  // The same with the event's key_of() worked out already.
  OfferResult offer(Event event, const EventKey& key);

  // The dedup identity of an event whose platform is loaded.
  EventKey key_of(const Event& event) const;

  // Whether offer() would call `event` a duplicate now. The daemon asks before it makes events
  // durable, so retried webhooks do not grow the journal.
  bool is_duplicate(const Event& event) const;
  bool is_duplicate(const EventKey& key) const;

  // The dedup step of offer() done ahead, in one probe-and-insert, for an event about to be made
  // durable: true if an event with `key` is a duplicate at watermark `as_of` (the one the event
  // will be offered at); otherwise the key is remembered until ts + dedup_retention, so that a
  // copy arriving meanwhile is a duplicate, and offer_claimed() later takes the event without
  // probing again. release() forgets a claim whose event could not be made durable.
  bool claim(const EventKey& key, Instant ts, Instant as_of);
  // A hint that `key` will be claimed or offered soon: starts loading its place in the dedup
  // table, so that a caller with a batch in hand (the daemon's request, a benchmark) can overlap
  // that memory access with the events before it. Changes nothing observable.
  void prefetch(const EventKey& key) const;
  void release(const EventKey& key);
  // offer() for an event whose claim() returned false; never a duplicate.
  OfferResult offer_claimed(Event event);

  // Moves the watermark forward (never back) and applies, in time order, every buffered event
  // and due timer strictly before it. Events win ties with timers at the same instant.
  void advance(Instant watermark);

  // End of input: applies everything at or before `until`, inclusive.
  void advance_through(Instant until);

  // Replay only: nothing later than `until` is ever applied, whatever the watermark.
  void set_apply_limit(Instant until);

  Instant watermark() const;

  // The earliest instant at which something is waiting (a buffered event or a timer); the live
  // daemon arms one timer for it.
  std::optional<Instant> next_due() const;

  // One entry per (platform, shop, SLA) of every shop with an applied event, sorted by platform,
  // shop and SLA name; windows are evaluated at `at`.
  std::vector<SlaFigures> figures(Instant at) const;

  // The same entries a bounded slice at a time, so that a scrape can copy them between other
  // work: appends the series of the shops after (`after_platform`, `after_shop`) in that order
  // (from the first shop when `after_platform` is empty), whole shops, until `max_series` are
  // appended (at least one shop). Returns false when no shop is left after the last appended.
  // Resuming by name, not by position, keeps a shop first seen between two slices from shifting
  // the others: it is listed if it sorts after the slices already taken.
  bool figures_after(Instant at, std::string_view after_platform, std::string_view after_shop,
                     std::size_t max_series, std::vector<SlaFigures>& out) const;

  // Calls `visit` once per (open round, SLA) that scores it and has not decided it.
  void for_each_open_round(const std::function<void(const OpenRoundView&)>& visit) const;

  // Calls `visit` once per (unanswered round, SLA that scores it), decided or not.
  void for_each_waiting_round(const std::function<void(const WaitingRoundView&)>& visit) const;

  const EventCounters& counters() const;
  std::size_t shop_count() const;
  // Events waiting in the reorder buffer for the watermark.
  std::size_t buffered_events() const;
  const std::string& shop_name(std::uint32_t shop) const;
  // The platform index (in RuleSet::platforms) of a shop.
  std::uint32_t shop_platform(std::uint32_t shop) const;

  // Memory held by open rounds and their bookkeeping, for the benchmark.
  struct MemoryStats {
    std::size_t conversations = 0;
    std::size_t open_rounds = 0;
    std::size_t buffered_events = 0;
    std::size_t timers = 0;
    std::size_t dedup_entries = 0;
  };
  MemoryStats memory_stats() const;

  // After a reload: takes over from `previous`, the engine the same events built under the rules
  // before it, at the same watermark (else std::logic_error), its shops, agents, event counters
  // and the counters, windows and presence state of the `carried` SLAs; the rest stays as this
  // engine derived it (engine_state_carry.h lists it). `keep_shop(platform, name)` is asked for a
  // shop this engine has not seen; false leaves it out.
  void carry_from(const Engine& previous, const std::vector<CarriedSla>& carried,
                  const std::function<bool(std::uint32_t, const std::string&)>& keep_shop);

  // The whole state, for snapshots (engine_state_codec.h says what is kept). load() takes an
  // engine built with the same rules and options that has seen no event; it throws
  // SnapshotError on damage, leaving the engine unusable.
  void save(SnapshotWriter& out) const;
  void load(SnapshotReader& in);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace replywatch

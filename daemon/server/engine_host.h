// One engine with what the daemon keeps beside it: response-time histograms fed by the engine's
// effects and per-platform event counts. Built whole on start and on every reload, from the
// journal, so everything in it describes the same history.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "alert_notifier.h"
#include "event_log.h"
#include "replywatch/engine.h"
#include "replywatch/event.h"
#include "replywatch/shop_admission.h"

namespace replywatch::server {

struct PlatformEventCounts {
  std::array<std::uint64_t, kEventTypeCount> received{};  // accepted and duplicates, by type
  std::uint64_t duplicates = 0;
  std::uint64_t late = 0;
};

struct ResponseHistogram {
  std::vector<std::uint64_t> bucket_counts;  // per bound, not cumulative; +Inf is `count`
  double sum = 0.0;
  std::uint64_t count = 0;
};

// What replaying one log record did.
enum class JournalLineResult { kApplied, kDuplicate, kCorrupt, kUnknownPlatform, kShopRefused };

class EngineHost final : private EffectSink {
 public:
  // With `alerts`, the host also keeps the conversation alerts its effects raise.
  EngineHost(std::shared_ptr<const RuleSet> rules, EngineOptions options,
             std::uint32_t max_shops = kDefaultMaxShops,
             std::optional<NotifierSettings> alerts = std::nullopt);
  EngineHost(const EngineHost&) = delete;
  EngineHost& operator=(const EngineHost&) = delete;
  ~EngineHost() override;

  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  const RuleSet& rules() const { return *rules_; }
  // Asked before an event is made durable; the log holds only admitted shops' events.
  ShopAdmission& shops() { return shops_; }
  const ShopAdmission& shops() const { return shops_; }
  AlertNotifier* alerts() { return alerts_.get(); }

  OfferResult offer(Event event);
  OfferResult offer(Event event, const EventKey& key);  // key: engine().key_of(event)
  // For an event whose engine().claim() returned false (see Engine::offer_claimed).
  OfferResult offer_claimed(Event event);

  // Advances to the recorded watermark at a request's first record and offers the recorded
  // event, exactly as live. The record's event is moved from.
  JournalLineResult replay_record(storage::LogRecord& record);

  // Bucket bounds in seconds of one SLA's histogram: its own thresholds (deadline and warning
  // point, or max_average and unanswered_cost) and 1/4, 1/2, 2 and 4 times its deadline or
  // max_average. Empty for agent_presence.
  const std::vector<double>& bucket_bounds(SlaRef ref) const {
    return bounds_[ref.platform][ref.sla];
  }
  // Nothing for a (shop, SLA) without a decided round yet.
  const ResponseHistogram* histogram(SlaRef ref) const;
  const PlatformEventCounts& platform_counts(std::uint32_t platform) const {
    return platform_counts_[platform];
  }
  // Adds counts the journal cannot reproduce (duplicates it never recorded), so a rebuilt host
  // keeps counting from where the old one was.
  void add_counts(std::uint32_t platform, const PlatformEventCounts& counts);

  // After a reload: takes over from `previous` (the host this one replaces, built from the same
  // events under the rules before) what the engine carries (Engine::carry_from) and the response
  // histograms of the `carried` SLAs; per platform both load, the event counts are the larger
  // of the two (they never go down). Advances this host to the previous one's watermark first.
  void carry_from(const EngineHost& previous, const std::vector<CarriedSla>& carried);

  // Everything above, for snapshots: the engine, admitted shops, histograms, event counts and
  // the alert state. load() takes a host built with the same rules and settings that has seen
  // no event; it throws SnapshotError on damage.
  void save(SnapshotWriter& out) const;
  void load(SnapshotReader& in);

 private:
  void on_round_decided(const RoundDecided& effect) override;
  void on_warning(const WarningRaised& effect) override;
  void on_round_ended(const RoundEnded& effect) override;

  std::shared_ptr<const RuleSet> rules_;
  Engine engine_;
  ShopAdmission shops_;
  std::vector<std::vector<std::vector<double>>> bounds_;    // [platform][sla]
  std::vector<std::vector<ResponseHistogram>> histograms_;  // [shop][sla]
  std::vector<PlatformEventCounts> platform_counts_;
  std::unique_ptr<AlertNotifier> alerts_;
};

}  // namespace replywatch::server

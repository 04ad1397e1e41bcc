#include "engine_host.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "replywatch/event_codec.h"
#include "replywatch/snapshot_codec.h"

namespace replywatch::server {
namespace {

constexpr std::uint32_t kHostSection = 0x48535431;  // "HST1"
constexpr std::uint32_t kHostEnd = 0x48454e44;      // "HEND"

// Fractions and multiples of an SLA's main threshold (its deadline, or max_average) put beside
// its own thresholds: enough to read a quantile near the target, at a handful of buckets per
// series instead of one per threshold of every rule file.
constexpr std::array<double, 4> kLadder = {0.25, 0.5, 2.0, 4.0};

std::vector<double> bounds_for(const Sla& sla) {
  std::vector<double> bounds;
  double main_threshold = 0.0;
  if (sla.kind == SlaKind::kReplyTime) {
    main_threshold = to_seconds(sla.deadline);
    if (sla.warn_before) bounds.push_back(to_seconds(sla.deadline - *sla.warn_before));
  } else if (sla.kind == SlaKind::kAverageResponse) {
    main_threshold = to_seconds(sla.max_average);
    bounds.push_back(to_seconds(sla.unanswered_cost));
  } else {
    return bounds;  // agent_presence observes no rounds
  }
  bounds.push_back(main_threshold);
  for (const double factor : kLadder) bounds.push_back(main_threshold * factor);
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                              [](double bound) { return !(bound > 0.0) || std::isinf(bound); }),
               bounds.end());
  return bounds;
}

std::vector<std::vector<std::vector<double>>> bounds_for(const RuleSet& rules) {
  std::vector<std::vector<std::vector<double>>> bounds;
  for (const PlatformRules& platform : rules.platforms) {
    auto& per_sla = bounds.emplace_back();
    for (const Sla& sla : platform.slas) per_sla.push_back(bounds_for(sla));
  }
  return bounds;
}

}  // namespace

EngineHost::EngineHost(std::shared_ptr<const RuleSet> rules, EngineOptions options,
                       std::uint32_t max_shops, std::optional<NotifierSettings> alerts)
    : rules_(rules),
      engine_(std::move(rules), options),
      shops_(*rules_, max_shops),
      bounds_(bounds_for(*rules_)),
      platform_counts_(rules_->platforms.size()) {
  if (alerts) alerts_ = std::make_unique<AlertNotifier>(engine_, std::move(*alerts));
  engine_.set_effect_sink(this);
}

EngineHost::~EngineHost() { engine_.set_effect_sink(nullptr); }

OfferResult EngineHost::offer(Event event) {
  const EventKey key = engine_.key_of(event);
  return offer(std::move(event), key);
}

OfferResult EngineHost::offer(Event event, const EventKey& key) {
  const auto platform =
      static_cast<std::size_t>(rules_->find(event.platform) - rules_->platforms.data());
  PlatformEventCounts& counts = platform_counts_[platform];
  ++counts.received[static_cast<std::size_t>(event.type)];
  const OfferResult result = engine_.offer(std::move(event), key);
  if (result.duplicate) ++counts.duplicates;
  if (result.late) ++counts.late;
  return result;
}

OfferResult EngineHost::offer_claimed(Event event) {
  const auto platform =
      static_cast<std::size_t>(rules_->find(event.platform) - rules_->platforms.data());
  PlatformEventCounts& counts = platform_counts_[platform];
  ++counts.received[static_cast<std::size_t>(event.type)];
  const OfferResult result = engine_.offer_claimed(std::move(event));
  if (result.late) ++counts.late;
  return result;
}

JournalLineResult EngineHost::replay_record(storage::LogRecord& record) {
  // A watermark no event could have produced is damage, and advancing to it would make the
  // engine walk service-hours boundaries for millennia (the log's reader refuses records
  // later than now + max_future_skew before they get here).
  if (record.watermark.time_since_epoch().count() < 0 ||
      record.watermark.time_since_epoch().count() > kMaxEpochMillis) {
    return JournalLineResult::kCorrupt;
  }
  // A rule file removed since: its events have nothing left to count against.
  if (rules_->find(record.event.platform) == nullptr) return JournalLineResult::kUnknownPlatform;
  // Live, the engine was advanced once per request, before its first event.
  if (!record.continues_batch) engine_.advance(record.watermark);
  // Rules reloaded with a smaller cap or a new allow-list: the shop's events no longer count.
  if (shops_.admit(record.event.platform, record.event.shop) == ShopAdmission::Verdict::kRefused) {
    return JournalLineResult::kShopRefused;
  }
  const OfferResult result = offer(std::move(record.event));
  return result.duplicate ? JournalLineResult::kDuplicate : JournalLineResult::kApplied;
}

void EngineHost::add_counts(std::uint32_t platform, const PlatformEventCounts& counts) {
  PlatformEventCounts& mine = platform_counts_[platform];
  for (std::size_t t = 0; t < mine.received.size(); ++t) mine.received[t] += counts.received[t];
  mine.duplicates += counts.duplicates;
  mine.late += counts.late;
}

void EngineHost::carry_from(const EngineHost& previous, const std::vector<CarriedSla>& carried) {
  engine_.advance(previous.engine_.watermark());
  engine_.carry_from(previous.engine_, carried,
                     [this](std::uint32_t platform, const std::string& shop) {
                       return shops_.admit(rules_->platforms[platform].platform, shop) !=
                              ShopAdmission::Verdict::kRefused;
                     });
  // Every shop of the previous host is in this one now, unless admission refused it.
  std::map<std::pair<std::uint32_t, std::string_view>, std::uint32_t> shop_index;
  for (std::uint32_t shop = 0; shop < engine_.shop_count(); ++shop) {
    shop_index.emplace(
        std::pair{engine_.shop_platform(shop), std::string_view(engine_.shop_name(shop))}, shop);
  }
  for (const CarriedSla& pair : carried) {
    for (std::uint32_t shop = 0; shop < previous.histograms_.size(); ++shop) {
      if (previous.engine_.shop_platform(shop) != pair.from_platform) continue;
      const auto& per_sla = previous.histograms_[shop];
      if (pair.from_sla >= per_sla.size() || per_sla[pair.from_sla].bucket_counts.empty()) continue;
      const auto found = shop_index.find(
          std::pair{pair.platform, std::string_view(previous.engine_.shop_name(shop))});
      if (found == shop_index.end()) continue;
      if (found->second >= histograms_.size()) histograms_.resize(found->second + 1);
      auto& mine = histograms_[found->second];
      if (mine.size() <= pair.sla) mine.resize(pair.sla + 1);
      mine[pair.sla] = per_sla[pair.from_sla];
    }
  }
  for (std::uint32_t p = 0; p < rules_->platforms.size(); ++p) {
    const PlatformRules* was = previous.rules_->find(rules_->platforms[p].platform);
    if (was == nullptr) continue;
    const PlatformEventCounts& theirs =
        previous
            .platform_counts_[static_cast<std::size_t>(was - previous.rules_->platforms.data())];
    PlatformEventCounts& mine = platform_counts_[p];
    for (std::size_t t = 0; t < mine.received.size(); ++t) {
      mine.received[t] = std::max(mine.received[t], theirs.received[t]);
    }
    mine.duplicates = std::max(mine.duplicates, theirs.duplicates);
    mine.late = std::max(mine.late, theirs.late);
  }
}

const ResponseHistogram* EngineHost::histogram(SlaRef ref) const {
  if (ref.shop >= histograms_.size() || ref.sla >= histograms_[ref.shop].size()) return nullptr;
  const ResponseHistogram& histogram = histograms_[ref.shop][ref.sla];
  return histogram.bucket_counts.empty() ? nullptr : &histogram;
}

void EngineHost::on_warning(const WarningRaised& effect) {
  if (alerts_) alerts_->on_warning(effect);
}

void EngineHost::on_round_ended(const RoundEnded& effect) {
  if (alerts_) alerts_->on_round_ended(effect);
}

void EngineHost::on_round_decided(const RoundDecided& effect) {
  if (alerts_) alerts_->on_round_decided(effect);
  if (effect.ref.shop >= histograms_.size()) histograms_.resize(effect.ref.shop + 1);
  auto& per_sla = histograms_[effect.ref.shop];
  if (effect.ref.sla >= per_sla.size()) per_sla.resize(effect.ref.sla + 1);
  ResponseHistogram& histogram = per_sla[effect.ref.sla];
  const std::vector<double>& bounds = bucket_bounds(effect.ref);
  if (histogram.bucket_counts.empty()) histogram.bucket_counts.assign(bounds.size(), 0);
  // An unanswered round is observed at its deadline or cost cap: what it cost, at least.
  const double seconds = to_seconds(effect.elapsed);
  const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  if (bucket != bounds.end()) ++histogram.bucket_counts[bucket - bounds.begin()];
  histogram.sum += seconds;
  ++histogram.count;
}

void EngineHost::save(SnapshotWriter& out) const {
  out.tag(kHostSection);
  engine_.save(out);
  shops_.save(out);
  out.u64(histograms_.size());
  for (const auto& per_sla : histograms_) {
    out.u64(per_sla.size());
    for (const ResponseHistogram& histogram : per_sla) {
      out.u64(histogram.bucket_counts.size());
      for (const std::uint64_t count : histogram.bucket_counts) out.u64(count);
      out.f64(histogram.sum);
      out.u64(histogram.count);
    }
  }
  for (const PlatformEventCounts& counts : platform_counts_) {
    for (const std::uint64_t received : counts.received) out.u64(received);
    out.u64(counts.duplicates);
    out.u64(counts.late);
  }
  out.boolean(alerts_ != nullptr);
  if (alerts_) alerts_->save(out);
  out.tag(kHostEnd);
}

void EngineHost::load(SnapshotReader& in) {
  in.tag(kHostSection);
  engine_.load(in);
  shops_.load(in);
  histograms_.assign(in.count(8), {});
  if (histograms_.size() > engine_.shop_count()) in.fail("histograms of unknown shops");
  for (std::size_t shop = 0; shop < histograms_.size(); ++shop) {
    const auto& platform_bounds = bounds_[engine_.shop_platform(static_cast<std::uint32_t>(shop))];
    auto& per_sla = histograms_[shop];
    per_sla.resize(in.count(24));
    if (per_sla.size() > platform_bounds.size()) in.fail("histograms of unknown SLAs");
    for (std::size_t sla = 0; sla < per_sla.size(); ++sla) {
      ResponseHistogram& histogram = per_sla[sla];
      histogram.bucket_counts.resize(in.count(8));
      if (!histogram.bucket_counts.empty() &&
          histogram.bucket_counts.size() != platform_bounds[sla].size()) {
        in.fail("a histogram with other buckets");
      }
      for (std::uint64_t& count : histogram.bucket_counts) count = in.u64();
      histogram.sum = in.f64();
      histogram.count = in.u64();
    }
  }
  for (PlatformEventCounts& counts : platform_counts_) {
    for (std::uint64_t& received : counts.received) received = in.u64();
    counts.duplicates = in.u64();
    counts.late = in.u64();
  }
  if (in.boolean() != (alerts_ != nullptr)) in.fail("alert state where none is kept, or none");
  if (alerts_) alerts_->load(in);
  in.tag(kHostEnd);
}

}  // namespace replywatch::server

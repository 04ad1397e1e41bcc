#include "replywatch/rule_fingerprint.h"

#include <cstring>

#include "keyed_hash.h"

namespace replywatch {
namespace {

// Fixed keys: fingerprints are compared across processes and stored in snapshots.
constexpr std::uint64_t kKey0 = 0x72756c6566696e67ULL;
constexpr std::uint64_t kKey1 = 0x65727072696e7473ULL;

// Feeds values with their lengths, so that no two different inputs give the same bytes.
class Fingerprint {
 public:
  Fingerprint() : hash_(kKey0, kKey1) {}
  void add(std::string_view text) {
    add(static_cast<std::uint64_t>(text.size()));
    hash_.update(text);
  }
  void add(std::uint64_t value) {
    hash_.update(std::string_view(reinterpret_cast<const char*>(&value), sizeof value));
  }
  void add(std::int64_t value) { add(static_cast<std::uint64_t>(value)); }
  void add(Duration value) { add(static_cast<std::int64_t>(value.count())); }
  void add(double value) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    add(bits);
  }
  template <typename Enum>
  void add_enum(Enum value) {
    add(static_cast<std::uint64_t>(value));
  }
  void add_strings(const std::vector<std::string>& texts) {
    add(static_cast<std::uint64_t>(texts.size()));
    for (const std::string& text : texts) add(std::string_view(text));
  }
  void add_hours(const std::optional<ServiceHoursSpec>& hours) {
    add(std::uint64_t{hours.has_value()});
    if (!hours) return;
    add(static_cast<std::uint64_t>(hours->weekly.size()));
    for (const WeeklyHours& entry : hours->weekly) {
      add(std::uint64_t{entry.weekday_mask});
      add(static_cast<std::int64_t>(entry.interval.from_minute));
      add(static_cast<std::int64_t>(entry.interval.to_minute));
    }
    add(static_cast<std::uint64_t>(hours->overrides.size()));
    for (const HoursOverride& entry : hours->overrides) {
      add(static_cast<std::int64_t>(entry.local_day));
      add(std::uint64_t{entry.closed});
      add(static_cast<std::uint64_t>(entry.intervals.size()));
      for (const DailyInterval& interval : entry.intervals) {
        add(static_cast<std::int64_t>(interval.from_minute));
        add(static_cast<std::int64_t>(interval.to_minute));
      }
    }
  }
  std::uint64_t finish() {
    const Hash128 hash = hash_.finish();
    return hash.low ^ hash.high;
  }

 private:
  SipHash128 hash_;
};

void add_sla_keys(Fingerprint& f, const Sla& sla) {
  f.add(std::string_view(sla.name));
  f.add_enum(sla.kind);
  f.add_enum(sla.rounds);
  f.add_enum(sla.replies);
  f.add_enum(sla.hours);
  f.add_enum(sla.outside_hours);
  f.add(sla.window);
  f.add(sla.resolution);
  f.add(std::uint64_t{sla.min_rounds});
  f.add_strings(sla.channels);
  f.add(sla.deadline);
  f.add(std::uint64_t{sla.warn_before.has_value()});
  f.add(sla.warn_before.value_or(Duration(0)));
  f.add(std::uint64_t{sla.objective.has_value()});
  f.add(sla.objective.value_or(0.0));
  f.add_enum(sla.notify);
  f.add(sla.max_average);
  f.add(sla.unanswered_cost);
  f.add(std::uint64_t{sla.min_online});
  f.add(sla.grace);
}

}  // namespace

std::uint64_t sla_fingerprint(const PlatformRules& platform, std::size_t sla_index) {
  const Sla& sla = platform.slas.at(sla_index);
  Fingerprint f;
  f.add(static_cast<std::uint64_t>(sla_index));
  add_sla_keys(f, sla);
  const bool rounds = sla.kind != SlaKind::kAgentPresence;
  const bool service = sla.hours == HoursMode::kService;
  if (rounds) f.add(platform.idle_timeout);
  if (rounds && sla.replies == ReplyView::kCounted) f.add_strings(platform.counted_bots);
  if (service || (rounds && sla.resolution >= std::chrono::days(1))) {
    f.add(std::string_view(platform.timezone_name));
  }
  if (service) f.add_hours(platform.service_hours);
  f.add_strings(platform.allowed_shops);
  return f.finish();
}

RuleSetIdentity rule_set_identity(const RuleSet& rules, Duration dedup_retention,
                                  std::uint32_t max_shops) {
  RuleSetIdentity identity;
  identity.dedup_retention_ms = dedup_retention.count();
  identity.max_shops = max_shops;
  for (const PlatformRules& platform : rules.platforms) {
    PlatformIdentity& entry = identity.platforms.emplace_back();
    entry.platform = platform.platform;
    Fingerprint whole;
    whole.add(std::string_view(platform.platform));
    whole.add(std::string_view(platform.timezone_name));
    whole.add_hours(platform.service_hours);
    whole.add(platform.idle_timeout);
    whole.add_strings(platform.counted_bots);
    whole.add_strings(platform.allowed_shops);
    for (std::size_t s = 0; s < platform.slas.size(); ++s) {
      entry.slas.push_back(platform.slas[s].name);
      entry.fingerprints.push_back(sla_fingerprint(platform, s));
      add_sla_keys(whole, platform.slas[s]);
    }
    entry.platform_fingerprint = whole.finish();
  }
  return identity;
}

std::vector<CarriedSla> unchanged_slas(const RuleSet& before, const RuleSet& after) {
  std::vector<CarriedSla> carried;
  for (std::uint32_t p = 0; p < after.platforms.size(); ++p) {
    const PlatformRules& now = after.platforms[p];
    const PlatformRules* was = before.find(now.platform);
    if (was == nullptr) continue;
    const auto from_platform = static_cast<std::uint32_t>(was - before.platforms.data());
    for (std::uint32_t s = 0; s < now.slas.size(); ++s) {
      if (s >= was->slas.size() || was->slas[s].name != now.slas[s].name) continue;
      if (sla_fingerprint(*was, s) != sla_fingerprint(now, s)) continue;
      carried.push_back(CarriedSla{p, s, from_platform, s});
    }
  }
  return carried;
}

}  // namespace replywatch

// The validated, typed form of the rule files (docs/rules.md). Produced by the loader, read by the
// engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replywatch/time.h"

namespace date {
class time_zone;
}

namespace replywatch {

enum class SlaKind : std::uint8_t { kReplyTime, kAverageResponse, kAgentPresence };
enum class RoundScope : std::uint8_t { kFirst, kEvery };
// The index of a reply view; kCounted counts agents and the paid bots, kHuman only agents.
enum class ReplyView : std::uint8_t { kCounted = 0, kHuman = 1 };
enum class HoursMode : std::uint8_t { kAlways, kService };
enum class OutsideHours : std::uint8_t { kDefer, kExclude };
// Conversation-level alerts sent straight to Alertmanager, and their severity label.
enum class NotifySeverity : std::uint8_t { kNone, kPage, kTicket };

inline constexpr int kReplyViewCount = 2;

// Where a value came from, 1-based, for error messages and `check`.
struct SourcePosition {
  int line = 0;
  int column = 0;
};

// Minutes after local midnight; `to` may be 1440 ("24:00").
struct DailyInterval {
  int from_minute = 0;
  int to_minute = 0;
};

struct WeeklyHours {
  std::uint8_t weekday_mask = 0;  // bit 0 = Sunday ... bit 6 = Saturday (date::weekday encoding)
  DailyInterval interval;
};

struct HoursOverride {
  std::int32_t local_day = 0;  // days since 1970-01-01 of the local calendar date
  bool closed = false;         // true: no hours that day; false: exactly `intervals`
  std::vector<DailyInterval> intervals;
};

struct ServiceHoursSpec {
  std::vector<WeeklyHours> weekly;
  std::vector<HoursOverride> overrides;  // sorted by local_day, unique
};

struct Sla {
  std::string name;
  SlaKind kind = SlaKind::kReplyTime;
  SourcePosition position;

  // reply_time and average_response
  RoundScope rounds = RoundScope::kEvery;
  ReplyView replies = ReplyView::kCounted;
  HoursMode hours = HoursMode::kAlways;  // also agent_presence
  OutsideHours outside_hours = OutsideHours::kDefer;
  Duration window = std::chrono::days(1);
  Duration resolution = std::chrono::minutes(1);
  std::uint32_t min_rounds = 1;
  // Empty: every round. Otherwise only rounds whose starting buyer message came on one of these
  // channels are scored.
  std::vector<std::string> channels;

  // reply_time
  Duration deadline{0};
  std::optional<Duration> warn_before;
  std::optional<double> objective;
  NotifySeverity notify = NotifySeverity::kNone;

  // average_response
  Duration max_average{0};
  Duration unanswered_cost{0};

  // agent_presence
  std::uint32_t min_online = 1;
  Duration grace{0};
};

struct PlatformRules {
  std::string platform;
  std::string file;  // path as given to the loader, for messages
  std::string timezone_name;
  const date::time_zone* timezone = nullptr;  // from the system tz database; never null once loaded
  std::optional<ServiceHoursSpec> service_hours;
  Duration idle_timeout = std::chrono::minutes(30);
  std::vector<std::string> counted_bots;
  std::vector<Sla> slas;  // in file order
  // `shops:` of the rule file: the only shops that may have events. Empty: any shop, up to the
  // daemon's max_shops.
  std::vector<std::string> allowed_shops;
};

// The name a rule file uses for the kind: reply_time, average_response, agent_presence.
std::string_view sla_kind_name(SlaKind kind);

// Every platform's rules, sorted by platform name.
struct RuleSet {
  std::vector<PlatformRules> platforms;

  const PlatformRules* find(std::string_view platform) const;
};

// At most this many buckets (window / resolution) per SLA.
inline constexpr std::int64_t kMaxWindowBuckets = 100'000;

// At most this many SLAs per rule file: the engine keeps per-round state in 32-bit masks.
inline constexpr std::size_t kMaxSlasPerPlatform = 32;

}  // namespace replywatch

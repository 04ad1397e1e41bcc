#include "sla_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <span>

namespace replywatch::rules {
namespace {

constexpr Duration kOneDay = std::chrono::days(1);

constexpr std::array<std::string_view, 18> kAnySlaKeys = {
    "name",        "kind",       "rounds",        "replies",         "deadline",
    "warn_before", "hours",      "outside_hours", "objective",       "window",
    "resolution",  "min_rounds", "max_average",   "unanswered_cost", "min_online",
    "grace",       "channels",   "notify"};
constexpr std::array<std::string_view, 14> kReplyTimeKeys = {
    "name",          "kind",      "rounds", "replies",    "deadline",   "warn_before", "hours",
    "outside_hours", "objective", "window", "resolution", "min_rounds", "channels",    "notify"};
constexpr std::array<std::string_view, 12> kAverageResponseKeys = {
    "name",  "kind",          "rounds", "replies",    "max_average", "unanswered_cost",
    "hours", "outside_hours", "window", "resolution", "min_rounds",  "channels"};
constexpr std::array<std::string_view, 5> kAgentPresenceKeys = {"name", "kind", "min_online",
                                                                "grace", "hours"};

std::span<const std::string_view> keys_of_kind(SlaKind kind) {
  switch (kind) {
    case SlaKind::kReplyTime:
      return kReplyTimeKeys;
    case SlaKind::kAverageResponse:
      return kAverageResponseKeys;
    case SlaKind::kAgentPresence:
      return kAgentPresenceKeys;
  }
  return {};
}

bool applies_to(std::optional<SlaKind> kind, std::string_view key) {
  if (!kind) return true;
  const std::span<const std::string_view> allowed = keys_of_kind(*kind);
  return std::find(allowed.begin(), allowed.end(), key) != allowed.end();
}

bool is_sla_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The shortest exact spelling, for durations the file did not spell itself (defaults).
std::string duration_text(Duration d) {
  struct Unit {
    std::int64_t millis;
    std::string_view suffix;
  };
  static constexpr std::array<Unit, 4> kUnits = {
      {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}}};
  const std::int64_t ms = d.count();
  for (const Unit& unit : kUnits) {
    if (ms != 0 && ms % unit.millis == 0) return fmt::format("{}{}", ms / unit.millis, unit.suffix);
  }
  return fmt::format("{}ms", ms);
}

class SlaSchema {
 public:
  SlaSchema(YamlChecker& checker, const SlaContext& context)
      : checker_(checker), context_(context) {}

  std::optional<Sla> sla(const Field& field) {
    const std::optional<Mapping> map = checker_.mapping(field, kAnySlaKeys);
    if (!map) return std::nullopt;
    map_ = &*map;
    Sla result;
    result.position = map->at;

    if (const std::optional<Field> name = checker_.required(*map, "name")) {
      verdict_.take(sla_name(*name), result.name);
    } else {
      verdict_.fail();
    }
    if (const std::optional<Field> kind_field = checker_.required(*map, "kind")) {
      kind_ =
          checker_.choice<SlaKind>(*kind_field, {{"reply_time", SlaKind::kReplyTime},
                                                 {"average_response", SlaKind::kAverageResponse},
                                                 {"agent_presence", SlaKind::kAgentPresence}});
    }
    if (kind_) {
      result.kind = *kind_;
      for (const Entry& entry : map->entries) {
        if (!applies_to(kind_, entry.key)) {
          checker_.report(entry.key_at, fmt::format("key {} does not apply to kind {}",
                                                    in_quotes(entry.key), sla_kind_name(*kind_)));
          verdict_.fail();
        }
      }
    } else {
      verdict_.fail();
    }
    // Without a valid kind, every known key is still checked on its own.
    settings(result);
    if (!verdict_.ok()) return std::nullopt;
    return result;
  }

 private:
  std::optional<std::string> sla_name(const Field& field) {
    const std::optional<std::string> text = checker_.scalar(field, "a name like first_reply_3m");
    if (!text) return std::nullopt;
    if (!is_sla_name(*text)) {
      checker_.report(field.at, fmt::format("bad SLA name {}, expected lowercase letters, digits "
                                            "and _",
                                            in_quotes(*text)));
      return std::nullopt;
    }
    if (!context_.seen_names->insert(*text).second) {
      checker_.report(field.at, fmt::format("duplicate SLA name {}", in_quotes(*text)));
      return std::nullopt;
    }
    return text;
  }

  // The value of `key` when it is present and applies to the kind; keys that do not apply were
  // reported already.
  std::optional<Field> present(std::string_view key) const {
    const Entry* entry = map_->find(key);
    if (entry == nullptr || !applies_to(kind_, key)) return std::nullopt;
    return entry->field();
  }

  void require_for(SlaKind required_by, std::string_view key) {
    if (kind_ == required_by && map_->find(key) == nullptr) {
      checker_.report(map_->at, fmt::format("missing key \"{}\"", key));
      verdict_.fail();
    }
  }

  void settings(Sla& result) {
    if (const auto f = present("notify")) {
      verdict_.take(checker_.choice<NotifySeverity>(*f, {{"page", NotifySeverity::kPage},
                                                         {"ticket", NotifySeverity::kTicket},
                                                         {"none", NotifySeverity::kNone}}),
                    result.notify);
    }
    if (const auto f = present("rounds")) {
      verdict_.take(checker_.choice<RoundScope>(
                        *f, {{"first", RoundScope::kFirst}, {"every", RoundScope::kEvery}}),
                    result.rounds);
    }
    if (const auto f = present("replies")) {
      verdict_.take(checker_.choice<ReplyView>(
                        *f, {{"counted", ReplyView::kCounted}, {"human", ReplyView::kHuman}}),
                    result.replies);
    }
    hours(result);
    reply_time(result);
    if (const auto f = present("max_average")) {
      verdict_.take(checker_.duration(*f, true), result.max_average);
    }
    require_for(SlaKind::kAverageResponse, "max_average");
    if (const auto f = present("unanswered_cost")) {
      verdict_.take(checker_.duration(*f, true), result.unanswered_cost);
    }
    require_for(SlaKind::kAverageResponse, "unanswered_cost");
    if (const auto f = present("min_rounds")) {
      verdict_.take(checker_.count_at_least_one(*f), result.min_rounds);
    }
    if (const auto f = present("min_online")) {
      verdict_.take(checker_.count_at_least_one(*f), result.min_online);
    }
    if (const auto f = present("grace")) verdict_.take(checker_.duration(*f, false), result.grace);
    if (const auto f = present("channels")) channels(*f, result);
    if (!window(present("window"), present("resolution"), result)) verdict_.fail();
  }

  // A non-empty list of distinct, non-empty channel names.
  void channels(const Field& field, Sla& result) {
    const std::optional<std::vector<Field>> items = checker_.list(field, "each entry of channels");
    if (!items) {
      verdict_.fail();
      return;
    }
    if (items->empty()) {
      checker_.report(field.at, "channels must name at least one channel");
      verdict_.fail();
      return;
    }
    for (const Field& item : *items) {
      const std::optional<std::string> channel = checker_.scalar(item, "a channel name");
      if (!channel) {
        verdict_.fail();
      } else if (channel->empty()) {
        checker_.report(item.at, "channel name must not be empty");
        verdict_.fail();
      } else if (std::find(result.channels.begin(), result.channels.end(), *channel) !=
                 result.channels.end()) {
        checker_.report(item.at, fmt::format("duplicate channel {}", in_quotes(*channel)));
        verdict_.fail();
      } else {
        result.channels.push_back(*channel);
      }
    }
  }

  void hours(Sla& result) {
    bool hours_valid = true;
    if (const auto f = present("hours")) {
      const auto hours = checker_.choice<HoursMode>(
          *f, {{"service", HoursMode::kService}, {"always", HoursMode::kAlways}});
      hours_valid = verdict_.take(hours, result.hours);
      if (hours == HoursMode::kService && !context_.file_has_service_hours) {
        checker_.report(f->at, "hours: service needs service_hours");
        verdict_.fail();
      }
    }
    if (const auto f = present("outside_hours")) {
      const auto outside = checker_.choice<OutsideHours>(
          *f, {{"defer", OutsideHours::kDefer}, {"exclude", OutsideHours::kExclude}});
      verdict_.take(outside, result.outside_hours);
      if (outside && hours_valid && result.hours != HoursMode::kService) {
        checker_.report(f->at, "outside_hours applies only with hours: service");
        verdict_.fail();
      }
    }
  }

  void reply_time(Sla& result) {
    std::optional<ParsedDuration> deadline;
    if (const auto f = present("deadline")) {
      deadline = checker_.duration_with_text(*f, true);
      if (deadline) {
        result.deadline = deadline->value;
      } else {
        verdict_.fail();
      }
    }
    require_for(SlaKind::kReplyTime, "deadline");
    if (const auto f = present("warn_before")) {
      const auto warn = checker_.duration_with_text(*f, false);
      if (warn && deadline && warn->value > deadline->value) {
        checker_.report(f->at, fmt::format("warn_before {} is longer than deadline {}", warn->text,
                                           deadline->text));
        verdict_.fail();
      } else if (warn) {
        result.warn_before = warn->value;
      } else {
        verdict_.fail();
      }
    }
    if (const auto f = present("objective")) verdict_.take(objective(*f), result.objective);
  }

  std::optional<double> objective(const Field& field) {
    const std::optional<std::string> text = checker_.scalar(field, "a number like 0.99");
    if (!text) return std::nullopt;
    double value = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || !(value > 0.0 && value < 1.0)) {
      checker_.report(field.at, fmt::format("objective must be a number between 0 and 1 "
                                            "(exclusive), got {}",
                                            in_quotes(*text)));
      return std::nullopt;
    }
    return value;
  }

  bool window(const std::optional<Field>& window_field,
              const std::optional<Field>& resolution_field, Sla& result) {
    std::optional<ParsedDuration> window;
    std::optional<ParsedDuration> resolution;
    bool ok = true;
    if (window_field) {
      window = checker_.duration_with_text(*window_field, true);
      if (!window) ok = false;
    }
    if (resolution_field) {
      resolution = checker_.duration_with_text(*resolution_field, true);
      if (!resolution) {
        ok = false;
      } else if (resolution->value > kOneDay) {
        checker_.report(resolution->at, fmt::format("resolution {} is longer than the maximum 1d",
                                                    resolution->text));
        resolution.reset();
        ok = false;
      }
    }
    if (!ok) return false;
    if (window) result.window = window->value;
    if (resolution) {
      result.resolution = resolution->value;
    } else if (result.window <= kOneDay) {
      result.resolution = std::chrono::minutes(1);
    } else if (result.window <= 7 * kOneDay) {
      result.resolution = std::chrono::hours(1);
    } else {
      result.resolution = kOneDay;
    }
    if (result.window % result.resolution != Duration(0)) {
      const SourcePosition at = window       ? window->at
                                : resolution ? resolution->at
                                             : SourcePosition{};
      checker_.report(
          at, fmt::format("window {} is not a multiple of resolution {}",
                          window ? window->text : duration_text(result.window),
                          resolution ? resolution->text : duration_text(result.resolution)));
      return false;
    }
    // Each bucket is memory per shop and SLA, and the engine counts buckets in 32 bits.
    if (result.window / result.resolution > kMaxWindowBuckets) {
      const SourcePosition at = resolution ? resolution->at
                                : window   ? window->at
                                           : SourcePosition{};
      checker_.report(at,
                      fmt::format("window {} / resolution {} is {} buckets, more than {}",
                                  window ? window->text : duration_text(result.window),
                                  resolution ? resolution->text : duration_text(result.resolution),
                                  result.window / result.resolution, kMaxWindowBuckets));
      return false;
    }
    return true;
  }

  YamlChecker& checker_;
  const SlaContext& context_;
  const Mapping* map_ = nullptr;
  std::optional<SlaKind> kind_;
  Verdict verdict_;
};

}  // namespace

std::optional<Sla> check_sla(YamlChecker& checker, const Field& field, const SlaContext& context) {
  return SlaSchema(checker, context).sla(field);
}

}  // namespace replywatch::rules

// Rule files (SPEC §2): YAML in, a validated RuleSet or every error with its position out.
//
// The checker never stops at the first problem: each value is validated on its own, and checks
// that relate several values run only when those values are themselves valid, so that one mistake
// produces one error.

#include "replywatch/rule_loader.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <utility>

namespace replywatch {
namespace {

constexpr Duration kOneDay = std::chrono::days(1);
constexpr int kMinutesPerDay = 24 * 60;

// Weekday names in date::weekday order, so the index is the weekday_mask bit.
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

constexpr std::array<std::string_view, 6> kTopLevelKeys = {"platform", "timezone", "service_hours",
                                                           "sessions", "replies",  "slas"};
constexpr std::array<std::string_view, 2> kServiceHoursKeys = {"weekly", "overrides"};
constexpr std::array<std::string_view, 3> kWeeklyKeys = {"days", "from", "to"};
constexpr std::array<std::string_view, 3> kOverrideKeys = {"date", "hours", "closed"};
constexpr std::array<std::string_view, 2> kIntervalKeys = {"from", "to"};
constexpr std::array<std::string_view, 1> kSessionsKeys = {"idle_timeout"};
constexpr std::array<std::string_view, 1> kRepliesKeys = {"counted_bots"};

constexpr std::array<std::string_view, 16> kAnySlaKeys = {
    "name",        "kind",       "rounds",        "replies",         "deadline",
    "warn_before", "hours",      "outside_hours", "objective",       "window",
    "resolution",  "min_rounds", "max_average",   "unanswered_cost", "min_online",
    "grace"};
constexpr std::array<std::string_view, 12> kReplyTimeKeys = {
    "name",  "kind",          "rounds",    "replies", "deadline",   "warn_before",
    "hours", "outside_hours", "objective", "window",  "resolution", "min_rounds"};
constexpr std::array<std::string_view, 11> kAverageResponseKeys = {
    "name",  "kind",          "rounds", "replies",    "max_average", "unanswered_cost",
    "hours", "outside_hours", "window", "resolution", "min_rounds"};
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

bool is_name(std::string_view text, std::string_view extra_chars) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [extra_chars](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           extra_chars.find(c) != std::string_view::npos;
  });
}

// "a, b or c"
std::string join_choices(std::span<const std::string_view> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
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

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

// User text inside a message: quoted, control characters escaped, long text cut short.
std::string in_quotes(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  std::size_t shown = std::min(text.size(), kMaxShown);
  // Never cut a UTF-8 sequence in half.
  while (shown > 0 && shown < text.size() &&
         (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) {
    --shown;
  }
  std::string out = "\"";
  for (const char c : text.substr(0, shown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(byte));
    } else {
      out += c;
    }
  }
  if (shown < text.size()) out += "...";
  out += '"';
  return out;
}

SourcePosition position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// A value to check: the node, where to point at it, and how to name it in messages.
struct Field {
  std::string subject;
  YAML::Node node;
  SourcePosition at;
};

struct Entry {
  std::string key;
  SourcePosition key_at;
  YAML::Node value;
};

// A checked mapping: entries with scalar, unique keys, in file order.
struct Mapping {
  SourcePosition at;
  std::vector<Entry> entries;

  const Entry* find(std::string_view key) const {
    for (const Entry& entry : entries) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }
};

Field field_of(const Entry& entry) {
  // yaml-cpp gives an empty value the position of whatever token follows it, often on the next
  // line; the key is the honest place to point at.
  const SourcePosition value_at = position_of(entry.value.Mark());
  const bool use_key = entry.value.IsNull() || value_at.line == 0;
  return {entry.key, entry.value, use_key ? entry.key_at : value_at};
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return in_quotes(node.Scalar());
    default:
      return "nothing";
  }
}

struct ParsedDuration {
  Duration value;
  std::string text;
  SourcePosition at;
};

// What one file yields: its rules when it has no errors, and its platform name and position
// whenever that value alone is valid, for the cross-file uniqueness check.
struct FileOutcome {
  std::optional<PlatformRules> rules;
  std::optional<std::string> platform;
  SourcePosition platform_at;
  std::vector<RuleError> errors;
};

// Sees the start of each document and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}
};

class RuleFileChecker {
 public:
  explicit RuleFileChecker(std::string file) : file_(std::move(file)) {}

  FileOutcome check(std::string_view text) {
    FileOutcome outcome;
    try {
      if (const std::optional<YAML::Node> document = only_document(text)) {
        outcome.rules = check_platform(*document);
      }
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own message for this is "bad file".
      report(position_of(e.mark), "invalid yaml: nested too deeply");
    } catch (const YAML::Exception& e) {
      report(position_of(e.mark), fmt::format("invalid yaml: {}", e.msg));
    } catch (const std::exception& e) {
      // A reload must report, never take the daemon down, whatever the file holds.
      report({}, fmt::format("cannot read rule file: {}", e.what()));
    }
    if (!errors_.empty()) outcome.rules.reset();
    outcome.platform = platform_;
    outcome.platform_at = platform_at_;
    outcome.errors = std::move(errors_);
    return outcome;
  }

 private:
  // The file's one YAML document. yaml-cpp 0.7's LoadAll never returns on a stray "," at block
  // level (it yields an empty document without consuming the token, forever, allocating each
  // time), so documents are counted first with a parser that is stopped after two, or as soon as
  // it stops moving forward.
  std::optional<YAML::Node> only_document(std::string_view text) {
    const std::string input(text);
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
    }
    if (starts.marks.empty()) {
      report({}, "empty rule file, expected a mapping with platform, timezone and slas");
      return std::nullopt;
    }
    if (starts.marks.size() > 1) {
      const YAML::Mark& second = starts.marks[1];
      if (second.pos == starts.marks[0].pos) {
        const char stuck_at = second.pos >= 0 && static_cast<std::size_t>(second.pos) < input.size()
                                  ? input[second.pos]
                                  : ' ';
        report(position_of(second), fmt::format("invalid yaml: unexpected {}",
                                                in_quotes(std::string_view(&stuck_at, 1))));
      } else {
        report(position_of(second), "a rule file holds one yaml document, found a second one");
      }
      return std::nullopt;
    }
    YAML::Node document = YAML::Load(input);
    if (document.IsNull()) {
      report({}, "empty rule file, expected a mapping with platform, timezone and slas");
      return std::nullopt;
    }
    return document;
  }

  void report(SourcePosition at, std::string message) {
    errors_.push_back({file_, at.line, at.column, std::move(message)});
  }

  std::optional<Mapping> mapping(const Field& field, std::span<const std::string_view> known) {
    if (!field.node.IsMap()) {
      report(field.at,
             fmt::format("{} must be a mapping, got {}", field.subject, describe(field.node)));
      return std::nullopt;
    }
    Mapping result{field.at, {}};
    for (const auto& pair : field.node) {
      const SourcePosition key_at = position_of(pair.first.Mark());
      if (!pair.first.IsScalar()) {
        report(key_at, fmt::format("keys must be plain names, got {}", describe(pair.first)));
        continue;
      }
      const std::string& key = pair.first.Scalar();
      if (result.find(key) != nullptr) {
        report(key_at, fmt::format("duplicate key {}", in_quotes(key)));
        continue;
      }
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        // Short key lists are spelled out to help with typos; an SLA's sixteen would drown the
        // message.
        if (known.size() <= kTopLevelKeys.size()) {
          report(key_at,
                 fmt::format("unknown key {}, expected {}", in_quotes(key), join_choices(known)));
        } else {
          report(key_at, fmt::format("unknown key {}", in_quotes(key)));
        }
        continue;
      }
      result.entries.push_back({key, key_at, pair.second});
    }
    return result;
  }

  const Entry* required(const Mapping& map, std::string_view key) {
    const Entry* entry = map.find(key);
    if (entry == nullptr) report(map.at, fmt::format("missing key \"{}\"", key));
    return entry;
  }

  std::optional<std::vector<Field>> list(const Field& field, std::string_view item_subject) {
    if (!field.node.IsSequence()) {
      report(field.at,
             fmt::format("{} must be a list, got {}", field.subject, describe(field.node)));
      return std::nullopt;
    }
    std::vector<Field> items;
    for (const YAML::Node& item : field.node) {
      const SourcePosition at = position_of(item.Mark());
      items.push_back({std::string(item_subject), item, at.line == 0 ? field.at : at});
    }
    return items;
  }

  std::optional<std::string> scalar(const Field& field, std::string_view expected = "a string") {
    if (!field.node.IsScalar()) {
      report(field.at,
             fmt::format("{} must be {}, got {}", field.subject, expected, describe(field.node)));
      return std::nullopt;
    }
    return field.node.Scalar();
  }

  std::optional<Duration> duration(const Field& field, bool must_be_positive) {
    const std::optional<std::string> text = scalar(field, "a duration like 3m");
    if (!text) return std::nullopt;
    const std::optional<Duration> value = parse_duration(*text);
    if (!value) {
      report(field.at,
             fmt::format("bad duration {}, expected an integer followed by ms, s, m, h or d",
                         in_quotes(*text)));
      return std::nullopt;
    }
    if (must_be_positive && *value == Duration(0)) {
      report(field.at, fmt::format("{} must be greater than 0", field.subject));
      return std::nullopt;
    }
    return value;
  }

  std::optional<ParsedDuration> duration_with_text(const Field& field, bool must_be_positive) {
    const std::optional<Duration> value = duration(field, must_be_positive);
    if (!value) return std::nullopt;
    return ParsedDuration{*value, field.node.Scalar(), field.at};
  }

  template <typename Enum>
  std::optional<Enum> choice(const Field& field,
                             std::initializer_list<std::pair<std::string_view, Enum>> choices) {
    std::vector<std::string_view> names;
    for (const auto& choice : choices) names.push_back(choice.first);
    const std::optional<std::string> text = scalar(field, join_choices(names));
    if (!text) return std::nullopt;
    for (const auto& [name, value] : choices) {
      if (name == *text) return value;
    }
    report(field.at, fmt::format("bad {} {}, expected {}", field.subject, in_quotes(*text),
                                 join_choices(names)));
    return std::nullopt;
  }

  std::optional<std::uint32_t> count_at_least_one(const Field& field) {
    const std::optional<std::string> text = scalar(field, "a whole number");
    if (!text) return std::nullopt;
    std::uint32_t value = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || value < 1) {
      report(field.at, fmt::format("{} must be a whole number of at least 1, got {}", field.subject,
                                   in_quotes(*text)));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> objective(const Field& field) {
    const std::optional<std::string> text = scalar(field, "a number like 0.99");
    if (!text) return std::nullopt;
    double value = 0;
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || !(value > 0.0 && value < 1.0)) {
      report(field.at, fmt::format("objective must be a number between 0 and 1 (exclusive), got {}",
                                   in_quotes(*text)));
      return std::nullopt;
    }
    return value;
  }

  // "HH:MM" in minutes after midnight; "24:00" only where an interval ends.
  std::optional<int> time_of_day(const Field& field, bool is_end) {
    const std::optional<std::string> text = scalar(field, "a time like \"09:00\"");
    if (!text) return std::nullopt;
    const std::string& t = *text;
    const auto digit = [&t](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
    if (t.size() == 5 && digit(0) && digit(1) && t[2] == ':' && digit(3) && digit(4)) {
      const int hours = (t[0] - '0') * 10 + (t[1] - '0');
      const int minutes = (t[3] - '0') * 10 + (t[4] - '0');
      if (hours < 24 && minutes < 60) return hours * 60 + minutes;
      if (t == "24:00") {
        if (is_end) return kMinutesPerDay;
        report(field.at, "\"24:00\" is allowed only for to");
        return std::nullopt;
      }
    }
    report(field.at, fmt::format("bad time {}, expected \"HH:MM\" from 00:00 to {}", in_quotes(t),
                                 is_end ? "24:00" : "23:59"));
    return std::nullopt;
  }

  std::optional<DailyInterval> interval(const Mapping& map) {
    const Entry* from = required(map, "from");
    const Entry* to = required(map, "to");
    std::optional<int> from_minute;
    if (from != nullptr) from_minute = time_of_day(field_of(*from), false);
    std::optional<int> to_minute;
    if (to != nullptr) to_minute = time_of_day(field_of(*to), true);
    if (!from_minute || !to_minute) return std::nullopt;
    if (*from_minute == *to_minute) {
      report(field_of(*to).at,
             fmt::format("empty interval: from and to are both {}", from->value.Scalar()));
      return std::nullopt;
    }
    return DailyInterval{*from_minute, *to_minute};
  }

  std::optional<std::uint8_t> weekdays(const Field& field) {
    const std::optional<std::vector<Field>> items = list(field, "each entry of days");
    if (!items) return std::nullopt;
    if (items->empty()) {
      report(field.at, "days must not be empty, expected days like [mon, tue]");
      return std::nullopt;
    }
    std::uint8_t mask = 0;
    bool ok = true;
    for (const Field& item : *items) {
      const std::optional<std::string> name = scalar(item, "a day like mon");
      if (!name) {
        ok = false;
        continue;
      }
      const auto* const found = std::find(kWeekdayNames.begin(), kWeekdayNames.end(), *name);
      if (found == kWeekdayNames.end()) {
        report(item.at, fmt::format("unknown day {}, expected mon, tue, wed, thu, fri, sat "
                                    "or sun",
                                    in_quotes(*name)));
        ok = false;
        continue;
      }
      const auto bit = static_cast<std::uint8_t>(1U << (found - kWeekdayNames.begin()));
      if ((mask & bit) != 0) {
        report(item.at, fmt::format("day {} is listed twice", in_quotes(*name)));
        ok = false;
        continue;
      }
      mask = static_cast<std::uint8_t>(mask | bit);
    }
    if (!ok) return std::nullopt;
    return mask;
  }

  std::optional<std::int32_t> calendar_date(const Field& field) {
    const std::optional<std::string> text = scalar(field, "a date like \"2026-11-11\"");
    if (!text) return std::nullopt;
    const std::string& t = *text;
    const auto digits = [&t](std::size_t from, std::size_t count) {
      int value = 0;
      for (std::size_t i = from; i < from + count; ++i) {
        if (t[i] < '0' || t[i] > '9') return -1;
        value = value * 10 + (t[i] - '0');
      }
      return value;
    };
    if (t.size() == 10 && t[4] == '-' && t[7] == '-') {
      const int year = digits(0, 4);
      const int month = digits(5, 2);
      const int day = digits(8, 2);
      if (year >= 0 && month >= 0 && day >= 0) {
        const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                       date::day{static_cast<unsigned>(day)}};
        if (ymd.ok()) {
          return static_cast<std::int32_t>(date::sys_days{ymd}.time_since_epoch().count());
        }
      }
    }
    report(field.at,
           fmt::format("bad date {}, expected a real date as \"YYYY-MM-DD\"", in_quotes(t)));
    return std::nullopt;
  }

  std::optional<WeeklyHours> weekly_entry(const Field& field) {
    const std::optional<Mapping> map = mapping(field, kWeeklyKeys);
    if (!map) return std::nullopt;
    const Entry* days = required(*map, "days");
    std::optional<std::uint8_t> mask;
    if (days != nullptr) mask = weekdays(field_of(*days));
    const std::optional<DailyInterval> hours = interval(*map);
    if (!mask || !hours) return std::nullopt;
    return WeeklyHours{*mask, *hours};
  }

  std::optional<HoursOverride> override_entry(const Field& field,
                                              std::map<std::int32_t, std::string>& seen_dates) {
    const std::optional<Mapping> map = mapping(field, kOverrideKeys);
    if (!map) return std::nullopt;
    bool ok = true;
    HoursOverride result;
    if (const Entry* date_entry = required(*map, "date")) {
      const Field date_field = field_of(*date_entry);
      if (const std::optional<std::int32_t> day = calendar_date(date_field)) {
        result.local_day = *day;
        const auto [found, inserted] = seen_dates.emplace(*day, date_field.node.Scalar());
        if (!inserted) {
          report(date_field.at, fmt::format("duplicate override for {}", found->second));
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    const Entry* hours = map->find("hours");
    const Entry* closed = map->find("closed");
    if (hours != nullptr && closed != nullptr) {
      report(closed->key_at, "an override takes either hours or closed: true, not both");
      return std::nullopt;
    }
    if (hours == nullptr && closed == nullptr) {
      report(map->at, R"(missing key "hours" or "closed")");
      return std::nullopt;
    }
    if (closed != nullptr) {
      const Field closed_field = field_of(*closed);
      bool value = false;
      if (!closed_field.node.IsScalar() || !YAML::convert<bool>::decode(closed_field.node, value) ||
          !value) {
        report(closed_field.at,
               fmt::format("closed must be true (give hours instead to open), got {}",
                           describe(closed_field.node)));
        return std::nullopt;
      }
      result.closed = true;
    } else {
      const Field hours_field = field_of(*hours);
      const std::optional<std::vector<Field>> items = list(hours_field, "each entry of hours");
      if (!items) return std::nullopt;
      if (items->empty()) {
        report(hours_field.at, "hours must not be empty, use closed: true for a closed day");
        return std::nullopt;
      }
      for (const Field& item : *items) {
        const std::optional<Mapping> interval_map = mapping(item, kIntervalKeys);
        const std::optional<DailyInterval> parsed =
            interval_map ? interval(*interval_map) : std::nullopt;
        if (parsed) {
          result.intervals.push_back(*parsed);
        } else {
          ok = false;
        }
      }
    }
    if (!ok) return std::nullopt;
    return result;
  }

  std::optional<ServiceHoursSpec> service_hours(const Field& field) {
    const std::optional<Mapping> map = mapping(field, kServiceHoursKeys);
    if (!map) return std::nullopt;
    ServiceHoursSpec result;
    bool ok = true;
    if (const Entry* weekly = map->find("weekly")) {
      if (const auto items = list(field_of(*weekly), "each entry of weekly")) {
        for (const Field& item : *items) {
          if (const std::optional<WeeklyHours> entry = weekly_entry(item)) {
            result.weekly.push_back(*entry);
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    }
    if (const Entry* overrides = map->find("overrides")) {
      std::map<std::int32_t, std::string> seen_dates;
      if (const auto items = list(field_of(*overrides), "each entry of overrides")) {
        for (const Field& item : *items) {
          if (std::optional<HoursOverride> entry = override_entry(item, seen_dates)) {
            result.overrides.push_back(std::move(*entry));
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    std::sort(
        result.overrides.begin(), result.overrides.end(),
        [](const HoursOverride& a, const HoursOverride& b) { return a.local_day < b.local_day; });
    return result;
  }

  std::optional<Sla> sla(const Field& field, bool file_has_service_hours,
                         std::set<std::string>& seen_names) {
    const std::optional<Mapping> map = mapping(field, kAnySlaKeys);
    if (!map) return std::nullopt;
    Sla result;
    result.position = map->at;
    bool ok = true;

    if (const Entry* name = required(*map, "name")) {
      const Field name_field = field_of(*name);
      if (const std::optional<std::string> text =
              scalar(name_field, "a name like first_reply_3m")) {
        result.name = *text;
        if (!is_name(*text, "_")) {
          report(name_field.at,
                 fmt::format("bad SLA name {}, expected lowercase letters, digits and _",
                             in_quotes(*text)));
          ok = false;
        } else if (!seen_names.insert(*text).second) {
          report(name_field.at, fmt::format("duplicate SLA name {}", in_quotes(*text)));
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    std::optional<SlaKind> kind;
    if (const Entry* kind_entry = required(*map, "kind")) {
      kind =
          choice<SlaKind>(field_of(*kind_entry), {{"reply_time", SlaKind::kReplyTime},
                                                  {"average_response", SlaKind::kAverageResponse},
                                                  {"agent_presence", SlaKind::kAgentPresence}});
    }
    if (kind) {
      result.kind = *kind;
      const std::span<const std::string_view> allowed = keys_of_kind(*kind);
      for (const Entry& entry : map->entries) {
        if (std::find(allowed.begin(), allowed.end(), entry.key) == allowed.end()) {
          report(entry.key_at, fmt::format("key {} does not apply to kind {}", in_quotes(entry.key),
                                           sla_kind_name(*kind)));
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    // Without a valid kind, every known key is still checked on its own.
    if (!sla_settings(*map, kind, file_has_service_hours, result)) ok = false;
    if (!ok) return std::nullopt;
    return result;
  }

  // The settings after name and kind; keys that do not apply to the kind were reported already.
  bool sla_settings(const Mapping& map, std::optional<SlaKind> kind, bool file_has_service_hours,
                    Sla& result) {
    bool ok = true;
    const auto present = [&](std::string_view key) -> std::optional<Field> {
      const Entry* entry = map.find(key);
      if (entry == nullptr) return std::nullopt;
      if (kind) {
        const std::span<const std::string_view> allowed = keys_of_kind(*kind);
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) return std::nullopt;
      }
      return field_of(*entry);
    };
    const auto take = [&ok](const auto& parsed, auto& target) {
      if (parsed) {
        target = *parsed;
      } else {
        ok = false;
      }
    };
    const auto require_for = [&](SlaKind required_by, std::string_view key) {
      if (kind == required_by && map.find(key) == nullptr) {
        report(map.at, fmt::format("missing key \"{}\"", key));
        ok = false;
      }
    };

    if (const auto f = present("rounds")) {
      take(choice<RoundScope>(*f, {{"first", RoundScope::kFirst}, {"every", RoundScope::kEvery}}),
           result.rounds);
    }
    if (const auto f = present("replies")) {
      take(choice<ReplyView>(*f, {{"counted", ReplyView::kCounted}, {"human", ReplyView::kHuman}}),
           result.replies);
    }
    bool hours_valid = true;
    if (const auto f = present("hours")) {
      const auto hours =
          choice<HoursMode>(*f, {{"service", HoursMode::kService}, {"always", HoursMode::kAlways}});
      hours_valid = hours.has_value();
      take(hours, result.hours);
      if (hours == HoursMode::kService && !file_has_service_hours) {
        report(f->at, "hours: service needs service_hours");
        ok = false;
      }
    }
    if (const auto f = present("outside_hours")) {
      const auto outside = choice<OutsideHours>(
          *f, {{"defer", OutsideHours::kDefer}, {"exclude", OutsideHours::kExclude}});
      take(outside, result.outside_hours);
      if (outside && hours_valid && result.hours != HoursMode::kService) {
        report(f->at, "outside_hours applies only with hours: service");
        ok = false;
      }
    }

    std::optional<ParsedDuration> deadline;
    if (const auto f = present("deadline")) {
      deadline = duration_with_text(*f, true);
      if (deadline) {
        result.deadline = deadline->value;
      } else {
        ok = false;
      }
    }
    require_for(SlaKind::kReplyTime, "deadline");
    if (const auto f = present("warn_before")) {
      const auto warn = duration_with_text(*f, false);
      if (warn && deadline && warn->value > deadline->value) {
        report(f->at, fmt::format("warn_before {} is longer than deadline {}", warn->text,
                                  deadline->text));
        ok = false;
      } else if (warn) {
        result.warn_before = warn->value;
      } else {
        ok = false;
      }
    }
    if (const auto f = present("objective")) take(objective(*f), result.objective);
    if (const auto f = present("max_average")) take(duration(*f, true), result.max_average);
    require_for(SlaKind::kAverageResponse, "max_average");
    if (const auto f = present("unanswered_cost")) take(duration(*f, true), result.unanswered_cost);
    require_for(SlaKind::kAverageResponse, "unanswered_cost");
    if (const auto f = present("min_rounds")) take(count_at_least_one(*f), result.min_rounds);
    if (const auto f = present("min_online")) take(count_at_least_one(*f), result.min_online);
    if (const auto f = present("grace")) take(duration(*f, false), result.grace);
    if (!check_window(present("window"), present("resolution"), result)) ok = false;
    return ok;
  }

  bool check_window(const std::optional<Field>& window_field,
                    const std::optional<Field>& resolution_field, Sla& result) {
    std::optional<ParsedDuration> window;
    std::optional<ParsedDuration> resolution;
    bool ok = true;
    if (window_field) {
      window = duration_with_text(*window_field, true);
      if (!window) ok = false;
    }
    if (resolution_field) {
      resolution = duration_with_text(*resolution_field, true);
      if (!resolution) {
        ok = false;
      } else if (resolution->value > kOneDay) {
        report(resolution->at,
               fmt::format("resolution {} is longer than the maximum 1d", resolution->text));
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
      report(at, fmt::format("window {} is not a multiple of resolution {}",
                             window ? window->text : duration_text(result.window),
                             resolution ? resolution->text : duration_text(result.resolution)));
      return false;
    }
    return true;
  }

  std::optional<std::vector<std::string>> counted_bots(const Field& field) {
    const std::optional<std::vector<Field>> items = list(field, "each entry of counted_bots");
    if (!items) return std::nullopt;
    std::vector<std::string> bots;
    bool ok = true;
    for (const Field& item : *items) {
      const std::optional<std::string> bot = scalar(item, "a bot name");
      if (!bot) {
        ok = false;
      } else if (bot->empty()) {
        report(item.at, "bot name must not be empty");
        ok = false;
      } else {
        bots.push_back(*bot);
      }
    }
    if (!ok) return std::nullopt;
    return bots;
  }

  std::optional<PlatformRules> check_platform(const YAML::Node& root) {
    const Field root_field{"a rule file", root, position_of(root.Mark())};
    const std::optional<Mapping> map = mapping(root_field, kTopLevelKeys);
    if (!map) return std::nullopt;
    PlatformRules result;
    result.file = file_;
    bool ok = true;

    if (const Entry* platform = required(*map, "platform")) {
      const Field platform_field = field_of(*platform);
      if (const std::optional<std::string> name = scalar(platform_field, "a name like tmall")) {
        if (is_name(*name, "_-")) {
          result.platform = *name;
          platform_ = *name;
          platform_at_ = platform_field.at;
        } else {
          report(platform_field.at,
                 fmt::format("bad platform {}, expected lowercase letters, digits, _ and -",
                             in_quotes(*name)));
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    if (const Entry* timezone = required(*map, "timezone")) {
      const Field timezone_field = field_of(*timezone);
      if (const std::optional<std::string> name =
              scalar(timezone_field, "a time zone like Asia/Shanghai")) {
        try {
          result.timezone = date::locate_zone(*name);
          result.timezone_name = *name;
        } catch (const std::exception&) {
          report(timezone_field.at, fmt::format("unknown time zone {}, expected an IANA name like "
                                                "Asia/Shanghai",
                                                in_quotes(*name)));
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    const Entry* hours = map->find("service_hours");
    if (hours != nullptr) {
      result.service_hours = service_hours(field_of(*hours));
      if (!result.service_hours) ok = false;
    }

    if (const Entry* sessions = map->find("sessions")) {
      if (const std::optional<Mapping> sessions_map = mapping(field_of(*sessions), kSessionsKeys)) {
        if (const Entry* idle = sessions_map->find("idle_timeout")) {
          const std::optional<Duration> timeout = duration(field_of(*idle), true);
          if (timeout) {
            result.idle_timeout = *timeout;
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    }

    if (const Entry* replies = map->find("replies")) {
      if (const std::optional<Mapping> replies_map = mapping(field_of(*replies), kRepliesKeys)) {
        if (const Entry* bots = replies_map->find("counted_bots")) {
          std::optional<std::vector<std::string>> names = counted_bots(field_of(*bots));
          if (names) {
            result.counted_bots = std::move(*names);
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    }

    if (const Entry* slas = required(*map, "slas")) {
      const Field slas_field = field_of(*slas);
      if (const auto items = list(slas_field, "each SLA")) {
        if (items->empty()) {
          report(slas_field.at, "slas must not be empty, expected at least one SLA");
          ok = false;
        }
        std::set<std::string> seen_names;
        for (std::size_t i = 0; i < items->size(); ++i) {
          const Field& item = (*items)[i];
          if (i == kMaxSlasPerPlatform) {
            report(item.at, fmt::format("too many SLAs, at most {} per file", kMaxSlasPerPlatform));
            ok = false;
          }
          if (std::optional<Sla> parsed = sla(item, hours != nullptr, seen_names)) {
            result.slas.push_back(std::move(*parsed));
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    if (!ok) return std::nullopt;
    return result;
  }

  std::string file_;
  std::vector<RuleError> errors_;
  std::optional<std::string> platform_;
  SourcePosition platform_at_;
};

void sort_by_position(std::vector<RuleError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const RuleError& a, const RuleError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

bool is_rule_file_name(const std::string& name) {
  // Like the shell glob *.yaml: hidden files (editor backups, lock files) are not rule files.
  if (name.empty() || name.front() == '.') return false;
  const std::string_view view(name);
  return (view.size() > 5 && view.ends_with(".yaml")) ||
         (view.size() > 4 && view.ends_with(".yml"));
}

std::optional<std::string> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(contents).str();
}

}  // namespace

std::string RuleError::to_string() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

RuleLoadResult load_rule_text(std::string_view text, const std::string& file) {
  FileOutcome outcome = RuleFileChecker(file).check(text);
  RuleLoadResult result;
  sort_by_position(outcome.errors);
  result.errors = std::move(outcome.errors);
  if (result.errors.empty() && outcome.rules) {
    result.rules.platforms.push_back(std::move(*outcome.rules));
  }
  return result;
}

RuleLoadResult load_rule_directory(const std::string& directory) {
  namespace fs = std::filesystem;
  RuleLoadResult result;
  const auto directory_error = [&](std::string message) {
    result.errors.push_back({directory, 0, 0, std::move(message)});
  };

  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (is_rule_file_name(name) && it->is_regular_file(type_ec)) names.push_back(std::move(name));
  }
  if (ec) {
    directory_error(fmt::format("cannot read rules directory: {}", lowercase(ec.message())));
    return result;
  }
  if (names.empty()) {
    directory_error("no rule files (*.yaml or *.yml) in the rules directory");
    return result;
  }
  std::sort(names.begin(), names.end());

  std::map<std::string, std::string, std::less<>> file_of_platform;
  for (const std::string& name : names) {
    const std::string path = (fs::path(directory) / name).string();
    const std::optional<std::string> text = read_whole_file(fs::path(directory) / name);
    if (!text) {
      result.errors.push_back({path, 0, 0, "cannot read rule file"});
      continue;
    }
    FileOutcome outcome = RuleFileChecker(path).check(*text);
    if (outcome.platform) {
      const auto [found, inserted] = file_of_platform.emplace(*outcome.platform, path);
      if (!inserted) {
        outcome.errors.push_back({path, outcome.platform_at.line, outcome.platform_at.column,
                                  fmt::format("platform \"{}\" is already defined in {}",
                                              *outcome.platform, found->second)});
        outcome.rules.reset();
      }
    }
    sort_by_position(outcome.errors);
    result.errors.insert(result.errors.end(), std::make_move_iterator(outcome.errors.begin()),
                         std::make_move_iterator(outcome.errors.end()));
    if (outcome.rules) result.rules.platforms.push_back(std::move(*outcome.rules));
  }

  if (!result.errors.empty()) {
    result.rules.platforms.clear();
    return result;
  }
  std::sort(result.rules.platforms.begin(), result.rules.platforms.end(),
            [](const PlatformRules& a, const PlatformRules& b) { return a.platform < b.platform; });
  return result;
}

}  // namespace replywatch

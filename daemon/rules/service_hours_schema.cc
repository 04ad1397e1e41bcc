#include "service_hours_schema.h"

#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>

namespace replywatch::rules {
namespace {

constexpr int kMinutesPerDay = 24 * 60;

// Weekday names in date::weekday order, so the index is the weekday_mask bit.
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

constexpr std::array<std::string_view, 2> kServiceHoursKeys = {"weekly", "overrides"};
constexpr std::array<std::string_view, 3> kWeeklyKeys = {"days", "from", "to"};
constexpr std::array<std::string_view, 3> kOverrideKeys = {"date", "hours", "closed"};
constexpr std::array<std::string_view, 2> kIntervalKeys = {"from", "to"};

class ServiceHoursSchema {
 public:
  explicit ServiceHoursSchema(YamlChecker& checker) : checker_(checker) {}

  std::optional<ServiceHoursSpec> service_hours(const Field& field) {
    const std::optional<Mapping> map = checker_.mapping(field, kServiceHoursKeys);
    if (!map) return std::nullopt;
    ServiceHoursSpec result;
    Verdict verdict;
    if (const Entry* weekly = map->find("weekly")) {
      each_item(weekly->field(), "each entry of weekly", verdict, [&](const Field& item) {
        std::optional<WeeklyHours> entry = weekly_entry(item);
        if (entry) result.weekly.push_back(*entry);
        return entry.has_value();
      });
    }
    if (const Entry* overrides = map->find("overrides")) {
      std::map<std::int32_t, std::string> seen_dates;
      each_item(overrides->field(), "each entry of overrides", verdict, [&](const Field& item) {
        std::optional<HoursOverride> entry = override_entry(item, seen_dates);
        if (entry) result.overrides.push_back(std::move(*entry));
        return entry.has_value();
      });
    }
    if (!verdict.ok()) return std::nullopt;
    std::sort(
        result.overrides.begin(), result.overrides.end(),
        [](const HoursOverride& a, const HoursOverride& b) { return a.local_day < b.local_day; });
    return result;
  }

 private:
  // Checks every item of a list with `check_item`, which says whether the item was valid.
  template <typename CheckItem>
  void each_item(const Field& field, std::string_view item_subject, Verdict& verdict,
                 CheckItem&& check_item) {
    const std::optional<std::vector<Field>> items = checker_.list(field, item_subject);
    if (!items) {
      verdict.fail();
      return;
    }
    for (const Field& item : *items) {
      if (!check_item(item)) verdict.fail();
    }
  }

  // "HH:MM" in minutes after midnight; "24:00" only where an interval ends.
  std::optional<int> time_of_day(const Field& field, bool is_end) {
    const std::optional<std::string> text = checker_.scalar(field, "a time like \"09:00\"");
    if (!text) return std::nullopt;
    const std::string& t = *text;
    const auto digit = [&t](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
    if (t.size() == 5 && digit(0) && digit(1) && t[2] == ':' && digit(3) && digit(4)) {
      const int hours = (t[0] - '0') * 10 + (t[1] - '0');
      const int minutes = (t[3] - '0') * 10 + (t[4] - '0');
      if (hours < 24 && minutes < 60) return hours * 60 + minutes;
      if (t == "24:00") {
        if (is_end) return kMinutesPerDay;
        checker_.report(field.at, "\"24:00\" is allowed only for to");
        return std::nullopt;
      }
    }
    checker_.report(field.at, fmt::format("bad time {}, expected \"HH:MM\" from 00:00 to {}",
                                          in_quotes(t), is_end ? "24:00" : "23:59"));
    return std::nullopt;
  }

  std::optional<DailyInterval> interval(const Mapping& map) {
    const std::optional<Field> from = checker_.required(map, "from");
    const std::optional<Field> to = checker_.required(map, "to");
    std::optional<int> from_minute;
    if (from) from_minute = time_of_day(*from, false);
    std::optional<int> to_minute;
    if (to) to_minute = time_of_day(*to, true);
    if (!from_minute || !to_minute) return std::nullopt;
    if (*from_minute == *to_minute) {
      checker_.report(to->at,
                      fmt::format("empty interval: from and to are both {}", from->node.Scalar()));
      return std::nullopt;
    }
    return DailyInterval{*from_minute, *to_minute};
  }

  std::optional<std::uint8_t> weekdays(const Field& field) {
    const std::optional<std::vector<Field>> items = checker_.list(field, "each entry of days");
    if (!items) return std::nullopt;
    if (items->empty()) {
      checker_.report(field.at, "days must not be empty, expected days like [mon, tue]");
      return std::nullopt;
    }
    std::uint8_t mask = 0;
    bool ok = true;
    for (const Field& item : *items) {
      const std::optional<std::string> name = checker_.scalar(item, "a day like mon");
      if (!name) {
        ok = false;
        continue;
      }
      const auto* const found = std::find(kWeekdayNames.begin(), kWeekdayNames.end(), *name);
      if (found == kWeekdayNames.end()) {
        checker_.report(item.at, fmt::format("unknown day {}, expected mon, tue, wed, thu, fri, "
                                             "sat or sun",
                                             in_quotes(*name)));
        ok = false;
        continue;
      }
      const auto bit = static_cast<std::uint8_t>(1U << (found - kWeekdayNames.begin()));
      if ((mask & bit) != 0) {
        checker_.report(item.at, fmt::format("day {} is listed twice", in_quotes(*name)));
        ok = false;
        continue;
      }
      mask = static_cast<std::uint8_t>(mask | bit);
    }
    if (!ok) return std::nullopt;
    return mask;
  }

  std::optional<std::int32_t> calendar_date(const Field& field) {
    const std::optional<std::string> text = checker_.scalar(field, "a date like \"2026-11-11\"");
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
    checker_.report(
        field.at, fmt::format("bad date {}, expected a real date as \"YYYY-MM-DD\"", in_quotes(t)));
    return std::nullopt;
  }

  std::optional<WeeklyHours> weekly_entry(const Field& field) {
    const std::optional<Mapping> map = checker_.mapping(field, kWeeklyKeys);
    if (!map) return std::nullopt;
    std::optional<std::uint8_t> mask;
    if (const std::optional<Field> days = checker_.required(*map, "days")) mask = weekdays(*days);
    const std::optional<DailyInterval> hours = interval(*map);
    if (!mask || !hours) return std::nullopt;
    return WeeklyHours{*mask, *hours};
  }

  std::optional<HoursOverride> override_entry(const Field& field,
                                              std::map<std::int32_t, std::string>& seen_dates) {
    const std::optional<Mapping> map = checker_.mapping(field, kOverrideKeys);
    if (!map) return std::nullopt;
    HoursOverride result;
    Verdict verdict;
    if (const std::optional<Field> date_field = checker_.required(*map, "date")) {
      if (verdict.take(calendar_date(*date_field), result.local_day)) {
        const auto [found, inserted] =
            seen_dates.emplace(result.local_day, date_field->node.Scalar());
        if (!inserted) {
          checker_.report(date_field->at, fmt::format("duplicate override for {}", found->second));
          verdict.fail();
        }
      }
    } else {
      verdict.fail();
    }

    const Entry* hours = map->find("hours");
    const Entry* closed = map->find("closed");
    if (hours != nullptr && closed != nullptr) {
      checker_.report(closed->key_at, "an override takes either hours or closed: true, not both");
      return std::nullopt;
    }
    if (hours == nullptr && closed == nullptr) {
      checker_.report(map->at, R"(missing key "hours" or "closed")");
      return std::nullopt;
    }
    if (closed != nullptr) {
      if (!closed_day(closed->field())) return std::nullopt;
      result.closed = true;
    } else if (!override_hours(hours->field(), result.intervals)) {
      return std::nullopt;
    }
    if (!verdict.ok()) return std::nullopt;
    return result;
  }

  bool closed_day(const Field& field) {
    bool value = false;
    if (!field.node.IsScalar() || !YAML::convert<bool>::decode(field.node, value) || !value) {
      checker_.report(field.at, fmt::format("closed must be true (give hours instead to open), "
                                            "got {}",
                                            describe(field.node)));
      return false;
    }
    return true;
  }

  bool override_hours(const Field& field, std::vector<DailyInterval>& intervals) {
    const std::optional<std::vector<Field>> items = checker_.list(field, "each entry of hours");
    if (!items) return false;
    if (items->empty()) {
      checker_.report(field.at, "hours must not be empty, use closed: true for a closed day");
      return false;
    }
    bool ok = true;
    for (const Field& item : *items) {
      const std::optional<Mapping> interval_map = checker_.mapping(item, kIntervalKeys);
      const std::optional<DailyInterval> parsed =
          interval_map ? interval(*interval_map) : std::nullopt;
      if (parsed) {
        intervals.push_back(*parsed);
      } else {
        ok = false;
      }
    }
    return ok;
  }

  YamlChecker& checker_;
};

}  // namespace

std::optional<ServiceHoursSpec> check_service_hours(YamlChecker& checker, const Field& field) {
  return ServiceHoursSchema(checker).service_hours(field);
}

}  // namespace replywatch::rules

#include "replywatch/time.h"

#include <date/date.h>
#include <fmt/format.h>

#include <charconv>

namespace replywatch {
namespace {

bool parse_fixed_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + digits, value);
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = 86'400'000;
  } else {
    return std::nullopt;
  }
  // 15 digits of days would overflow; anything past ~100 years is not a sensible duration.
  constexpr std::int64_t kLimit = 100LL * 366 * 86'400'000;
  if (value > kLimit / scale) return std::nullopt;
  return Duration(value * scale);
}

std::optional<Instant> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (text.size() < 20) return std::nullopt;
  if (!parse_fixed_digits(text, 0, 4, year) || text[4] != '-' ||
      !parse_fixed_digits(text, 5, 2, month) || text[7] != '-' ||
      !parse_fixed_digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !parse_fixed_digits(text, 11, 2, hour) || text[13] != ':' ||
      !parse_fixed_digits(text, 14, 2, minute) || text[16] != ':' ||
      !parse_fixed_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 3) millis = millis * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (std::size_t i = count; i < 3; ++i) millis *= 10;
  }
  if (pos >= text.size()) return std::nullopt;
  int offset_minutes = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const int sign = text[pos] == '-' ? -1 : 1;
    int off_h = 0;
    int off_m = 0;
    if (!parse_fixed_digits(text, pos + 1, 2, off_h) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !parse_fixed_digits(text, pos + 4, 2, off_m)) {
      return std::nullopt;
    }
    if (off_h > 23 || off_m > 59) return std::nullopt;
    offset_minutes = sign * (off_h * 60 + off_m);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                 date::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  const auto days = date::sys_days{ymd};
  const Instant t = Instant(days) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                    std::chrono::seconds(second) + Duration(millis) -
                    std::chrono::minutes(offset_minutes);
  const auto epoch_ms = t.time_since_epoch().count();
  if (epoch_ms < 0 || epoch_ms > kMaxEpochMillis) return std::nullopt;
  return t;
}

std::string format_rfc3339(Instant t) {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<Duration> tod{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count(),
                     tod.subseconds().count());
}

std::string format_duration_human(Duration d) {
  std::int64_t ms = d.count();
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms == 0) return "0s";
  if (ms < 1000) return fmt::format("{}{}ms", sign, ms);
  if (ms < 60'000) {
    if (ms % 1000 == 0) return fmt::format("{}{}s", sign, ms / 1000);
    return fmt::format("{}{:.1f}s", sign, static_cast<double>(ms) / 1000.0);
  }
  const std::int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}{}m{:02}s", sign, s / 60, s % 60);
  if (s < 86'400) return fmt::format("{}{}h{:02}m", sign, s / 3600, (s % 3600) / 60);
  return fmt::format("{}{}d{}h", sign, s / 86'400, (s % 86'400) / 3600);
}

}  // namespace replywatch

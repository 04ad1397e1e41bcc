// Time as data: every instant the engine sees is passed in, never read from a clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace replywatch {

using Duration = std::chrono::milliseconds;
using Instant = std::chrono::sys_time<Duration>;

inline constexpr Instant kInstantMin = Instant(Duration(INT64_MIN / 2));
inline constexpr Instant kInstantMax = Instant(Duration(INT64_MAX / 2));

// Latest instant an event timestamp may name: 9999-12-31T23:59:59.999Z.
inline constexpr std::int64_t kMaxEpochMillis = 253402300799999;

// "90s", "3m", "30d", "250ms": an unsigned integer followed by ms, s, m, h or d.
std::optional<Duration> parse_duration(std::string_view text);

// RFC 3339 with `Z` or an offset; `t`/`z` may be lowercase; digits below the millisecond are
// truncated. Returns nothing for anything else, including impossible dates.
std::optional<Instant> parse_rfc3339(std::string_view text);

// UTC, always with milliseconds: 2026-11-22T15:00:00.000Z.
std::string format_rfc3339(Instant t);

// Compact human form for tables: 0s, 850ms, 45s, 2m30s, 1h05m, 3d4h.
std::string format_duration_human(Duration d);

// Seconds as a double, for reports and metrics.
inline double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace replywatch

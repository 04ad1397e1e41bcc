// Service hours of one platform in its time zone (docs/rules.md, "Service hours, time zones and
// DST"), as UTC intervals.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace replywatch {

struct OpenInterval {
  Instant begin;  // inclusive
  Instant end;    // exclusive
};

class ServiceHours {
 public:
  // `spec` empty means never open. `zone` must not be null.
  ServiceHours(const ServiceHoursSpec* spec, const date::time_zone* zone);

  bool is_open(Instant t) const;

  // The first instant at which `amount` of open time has elapsed since `start`; kInstantMax
  // when the hours never provide that much.
  Instant add_business_time(Instant start, Duration amount) const;

  // Open time within [from, to).
  Duration business_time_between(Instant from, Instant to) const;

  // The first instant after `t` at which is_open changes; kInstantMax when it never does.
  Instant next_change_after(Instant t) const;

  // The local calendar day (days since 1970-01-01) holding `t`.
  std::int32_t local_day(Instant t) const;

  // UTC instant of a local wall-clock time: a repeated local time means its first occurrence, a
  // skipped one moves forward by the gap.
  Instant to_instant(std::int32_t local_day, int minute_of_day) const;

 private:
  // Merged open intervals that intersect local day `day` (cached).
  const std::vector<OpenInterval>& intervals_near(std::int32_t day) const;
  std::vector<OpenInterval> compute_intervals_near(std::int32_t day) const;
  void append_intervals_starting_on(std::int32_t day, std::vector<OpenInterval>& out) const;
  // True when no interval touches any local day after `day`.
  bool never_opens_after(std::int32_t day) const;

  const ServiceHoursSpec* spec_;
  const date::time_zone* timezone_;
  std::int32_t last_override_day_ = INT32_MIN;
  bool has_hours_ = false;  // false: the schedule never opens
  mutable std::unordered_map<std::int32_t, std::vector<OpenInterval>> cache_;
};

}  // namespace replywatch

#include "replywatch/service_hours.h"

#include <date/tz.h>

#include <algorithm>

namespace replywatch {
namespace {

// The day cache only has to hold the days that open rounds can still reach.
constexpr std::size_t kMaxCachedDays = 4096;
// Never scan further than this for business time or a change of state: a weekly schedule opens
// at least once a week, so only an absurd run of closed overrides could get this far.
constexpr std::int32_t kMaxScanDays = 5 * 366;

}  // namespace

ServiceHours::ServiceHours(const ServiceHoursSpec* spec, const date::time_zone* zone)
    : spec_(spec), timezone_(zone) {
  if (spec_ == nullptr) return;
  if (!spec_->overrides.empty()) last_override_day_ = spec_->overrides.back().local_day;
  has_hours_ =
      !spec_->weekly.empty() ||
      std::any_of(spec_->overrides.begin(), spec_->overrides.end(),
                  [](const HoursOverride& o) { return !o.closed && !o.intervals.empty(); });
}

std::int32_t ServiceHours::local_day(Instant t) const {
  const auto local = timezone_->to_local(t);
  return static_cast<std::int32_t>(date::floor<date::days>(local).time_since_epoch().count());
}

Instant ServiceHours::to_instant(std::int32_t day, int minute_of_day) const {
  const date::local_seconds local =
      date::local_days(date::days(day)) + std::chrono::minutes(minute_of_day);
  // For a repeated time `first` is the earlier offset; for a skipped one it is the offset before
  // the gap, which moves the time forward by the gap.
  const date::local_info info = timezone_->get_info(local);
  return Instant(local.time_since_epoch() - info.first.offset);
}

void ServiceHours::append_intervals_starting_on(std::int32_t day,
                                                std::vector<OpenInterval>& out) const {
  auto add = [&](const DailyInterval& interval) {
    const Instant begin = to_instant(day, interval.from_minute);
    const Instant end = interval.to_minute > interval.from_minute
                            ? to_instant(day, interval.to_minute)
                            : to_instant(day + 1, interval.to_minute);
    if (end > begin) out.push_back({begin, end});
  };
  const auto& overrides = spec_->overrides;
  const auto found =
      std::lower_bound(overrides.begin(), overrides.end(), day,
                       [](const HoursOverride& o, std::int32_t d) { return o.local_day < d; });
  if (found != overrides.end() && found->local_day == day) {
    if (!found->closed) {
      for (const DailyInterval& interval : found->intervals) add(interval);
    }
    return;
  }
  const unsigned weekday = date::weekday(date::sys_days(date::days(day))).c_encoding();
  for (const WeeklyHours& entry : spec_->weekly) {
    if ((entry.weekday_mask & (1U << weekday)) != 0) add(entry.interval);
  }
}

std::vector<OpenInterval> ServiceHours::compute_intervals_near(std::int32_t day) const {
  std::vector<OpenInterval> raw;
  if (spec_ == nullptr) return raw;
  // An interval that touches local day D starts on D or, running past midnight, on D - 1.
  append_intervals_starting_on(day - 1, raw);
  append_intervals_starting_on(day, raw);
  std::sort(raw.begin(), raw.end(),
            [](const OpenInterval& a, const OpenInterval& b) { return a.begin < b.begin; });
  std::vector<OpenInterval> merged;
  for (const OpenInterval& interval : raw) {
    if (!merged.empty() && interval.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, interval.end);
    } else {
      merged.push_back(interval);
    }
  }
  return merged;
}

const std::vector<OpenInterval>& ServiceHours::intervals_near(std::int32_t day) const {
  auto found = cache_.find(day);
  if (found != cache_.end()) return found->second;
  if (cache_.size() >= kMaxCachedDays) cache_.clear();
  return cache_.emplace(day, compute_intervals_near(day)).first->second;
}

bool ServiceHours::never_opens_after(std::int32_t day) const {
  // Past the last override only the weekly schedule can open, and it opens every week if at all.
  return spec_->weekly.empty() && day > last_override_day_ + 1;
}

bool ServiceHours::is_open(Instant t) const {
  if (!has_hours_) return false;
  for (const OpenInterval& interval : intervals_near(local_day(t))) {
    if (interval.begin <= t && t < interval.end) return true;
  }
  return false;
}

Instant ServiceHours::add_business_time(Instant start, Duration amount) const {
  if (amount <= Duration::zero()) return start;
  if (!has_hours_) return kInstantMax;
  Duration remaining = amount;
  Instant position = start;
  const std::int32_t first_day = local_day(start);
  for (std::int32_t day = first_day; day < first_day + kMaxScanDays; ++day) {
    for (const OpenInterval& interval : intervals_near(day)) {
      if (interval.end <= position) continue;
      const Instant from = std::max(interval.begin, position);
      const Duration available = interval.end - from;
      if (remaining <= available) return from + remaining;
      remaining -= available;
      position = interval.end;
    }
    if (never_opens_after(day)) break;
  }
  return kInstantMax;
}

Duration ServiceHours::business_time_between(Instant from, Instant to) const {
  if (to <= from || !has_hours_) return Duration::zero();
  Duration total{0};
  Instant position = from;
  const std::int32_t last_day = local_day(to);
  for (std::int32_t day = local_day(from); day <= last_day; ++day) {
    for (const OpenInterval& interval : intervals_near(day)) {
      const Instant begin = std::max(interval.begin, position);
      const Instant end = std::min(interval.end, to);
      if (end > begin) {
        total += end - begin;
        position = end;
      }
    }
  }
  return total;
}

Instant ServiceHours::next_change_after(Instant t) const {
  if (!has_hours_) return kInstantMax;
  const bool open_now = is_open(t);
  const std::int32_t first_day = local_day(t);
  std::vector<Instant> candidates;
  for (std::int32_t day = first_day; day < first_day + kMaxScanDays; ++day) {
    candidates.clear();
    // Boundaries that can fall on local day D belong to intervals near D or D + 1.
    for (std::int32_t near_day : {day, day + 1}) {
      for (const OpenInterval& interval : intervals_near(near_day)) {
        if (interval.begin > t) candidates.push_back(interval.begin);
        if (interval.end > t) candidates.push_back(interval.end);
      }
    }
    std::sort(candidates.begin(), candidates.end());
    for (const Instant candidate : candidates) {
      if (is_open(candidate) != open_now) return candidate;
    }
    if (never_opens_after(day)) break;
  }
  return kInstantMax;
}

}  // namespace replywatch

#include "replywatch/service_hours.h"

#include <date/tz.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string_view>

#include "replywatch/rule_set.h"
#include "replywatch/time.h"

using replywatch::DailyInterval;
using replywatch::Duration;
using replywatch::HoursOverride;
using replywatch::Instant;
using replywatch::ServiceHours;
using replywatch::ServiceHoursSpec;
using replywatch::WeeklyHours;

namespace {

Instant T(std::string_view text) {
  const auto parsed = replywatch::parse_rfc3339(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

Duration mins(std::int64_t n) { return Duration(n * 60'000); }
Duration hrs(std::int64_t n) { return Duration(n * 3'600'000); }

constexpr std::uint8_t kEveryDay = 0x7F;
constexpr std::uint8_t kMonToFri = 0x3E;  // bit 0 = Sunday

// Local calendar days (days since 1970-01-01).
constexpr std::int32_t kNov11 = 20768;  // 2026-11-11, Wednesday
constexpr std::int32_t kNov20 = 20777;  // 2026-11-20, Friday
constexpr std::int32_t kNov21 = 20778;  // 2026-11-21, Saturday
constexpr std::int32_t kMar07 = 20519;  // 2026-03-07, Saturday
constexpr std::int32_t kMar08 = 20520;  // 2026-03-08, Sunday: US spring forward 02:00 -> 03:00
constexpr std::int32_t kNov01 = 20758;  // 2026-11-01, Sunday: US fall back 02:00 -> 01:00

constexpr int hm(int h, int m) { return h * 60 + m; }

WeeklyHours weekly(std::uint8_t mask, int from, int to) { return {mask, {from, to}}; }

const date::time_zone* shanghai() { return date::locate_zone("Asia/Shanghai"); }
const date::time_zone* los_angeles() { return date::locate_zone("America/Los_Angeles"); }

}  // namespace

TEST_CASE("service_hours: daily hours are half-open", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(9, 0), hm(23, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  CHECK_FALSE(hours.is_open(T("2026-11-20T08:59:59.999+08:00")));
  CHECK(hours.is_open(T("2026-11-20T09:00:00+08:00")));  // from is inclusive
  CHECK(hours.is_open(T("2026-11-20T22:59:59.999+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-20T23:00:00+08:00")));  // to is exclusive
  CHECK_FALSE(hours.is_open(T("2026-11-21T03:00:00+08:00")));
}

TEST_CASE("service_hours: add_business_time", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(9, 0), hm(23, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  // 3m of open time from 22:57 ends exactly at closing, not the next morning
  CHECK(hours.add_business_time(T("2026-11-20T22:57:00+08:00"), mins(3)) ==
        T("2026-11-20T23:00:00+08:00"));
  // 1m before closing, 2m after the 09:00 opening
  CHECK(hours.add_business_time(T("2026-11-20T22:59:00+08:00"), mins(3)) ==
        T("2026-11-21T09:02:00+08:00"));
  // started while closed: the clock starts at 09:00
  CHECK(hours.add_business_time(T("2026-11-21T03:00:00+08:00"), mins(3)) ==
        T("2026-11-21T09:03:00+08:00"));
  // 13h to closing, then 1h the next day
  CHECK(hours.add_business_time(T("2026-11-20T10:00:00+08:00"), hrs(14)) ==
        T("2026-11-21T10:00:00+08:00"));
  // ms precision: 1 ms before closing + 1 ms is closing
  CHECK(hours.add_business_time(T("2026-11-20T22:59:59.999+08:00"), Duration(1)) ==
        T("2026-11-20T23:00:00+08:00"));
}

TEST_CASE("service_hours: business_time_between and next_change_after", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(9, 0), hm(23, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  // 22:00-23:00 plus 09:00-10:00
  CHECK(hours.business_time_between(T("2026-11-20T22:00:00+08:00"),
                                    T("2026-11-21T10:00:00+08:00")) == hrs(2));
  CHECK(hours.business_time_between(T("2026-11-20T10:00:00+08:00"),
                                    T("2026-11-20T10:00:00+08:00")) == Duration(0));
  // a whole day holds 14h
  CHECK(hours.business_time_between(T("2026-11-20T00:00:00+08:00"),
                                    T("2026-11-21T00:00:00+08:00")) == hrs(14));
  CHECK(hours.next_change_after(T("2026-11-20T08:59:59.999+08:00")) ==
        T("2026-11-20T09:00:00+08:00"));
  // strictly after: at the opening instant the next change is the closing
  CHECK(hours.next_change_after(T("2026-11-20T09:00:00+08:00")) == T("2026-11-20T23:00:00+08:00"));
  CHECK(hours.next_change_after(T("2026-11-20T23:00:00+08:00")) == T("2026-11-21T09:00:00+08:00"));
}

TEST_CASE("service_hours: local_day and to_instant", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(9, 0), hm(23, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  // local midnight in Shanghai is 16:00Z of the day before
  CHECK(hours.local_day(T("2026-11-20T23:59:59.999+08:00")) == kNov20);
  CHECK(hours.local_day(T("2026-11-21T00:00:00+08:00")) == kNov21);
  CHECK(hours.local_day(T("2026-11-20T16:00:00Z")) == kNov21);
  CHECK(hours.to_instant(kNov20, hm(9, 0)) == T("2026-11-20T09:00:00+08:00"));
  CHECK(hours.to_instant(kNov20, 0) == T("2026-11-20T00:00:00+08:00"));
  // "24:00" is the next local midnight
  CHECK(hours.to_instant(kNov20, 1440) == T("2026-11-21T00:00:00+08:00"));
}

TEST_CASE("service_hours: split shifts and closed weekends", "[service_hours]") {
  const ServiceHoursSpec spec{
      {weekly(kMonToFri, hm(9, 0), hm(12, 0)), weekly(kMonToFri, hm(13, 0), hm(18, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  CHECK(hours.is_open(T("2026-11-20T11:59:59.999+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-20T12:00:00+08:00")));  // lunch break
  CHECK_FALSE(hours.is_open(T("2026-11-20T12:59:59.999+08:00")));
  CHECK(hours.is_open(T("2026-11-20T13:00:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-21T10:00:00+08:00")));  // Saturday
  // 1m before lunch, 2m after it
  CHECK(hours.add_business_time(T("2026-11-20T11:59:00+08:00"), mins(3)) ==
        T("2026-11-20T13:02:00+08:00"));
  // Friday 17:59 + 3m: 1m on Friday, 2m on Monday 2026-11-23
  CHECK(hours.add_business_time(T("2026-11-20T17:59:00+08:00"), mins(3)) ==
        T("2026-11-23T09:02:00+08:00"));
  // 3h + 5h
  CHECK(hours.business_time_between(T("2026-11-20T08:00:00+08:00"),
                                    T("2026-11-20T20:00:00+08:00")) == hrs(8));
  CHECK(hours.next_change_after(T("2026-11-20T10:00:00+08:00")) == T("2026-11-20T12:00:00+08:00"));
  CHECK(hours.next_change_after(T("2026-11-20T12:00:00+08:00")) == T("2026-11-20T13:00:00+08:00"));
  // closes Friday 18:00, reopens Monday 09:00
  CHECK(hours.next_change_after(T("2026-11-20T18:00:00+08:00")) == T("2026-11-23T09:00:00+08:00"));
}

TEST_CASE("service_hours: overnight windows run past midnight", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(22, 0), hm(2, 0))}, {}};
  const ServiceHours hours(&spec, shanghai());
  CHECK_FALSE(hours.is_open(T("2026-11-20T21:59:59.999+08:00")));
  CHECK(hours.is_open(T("2026-11-20T22:00:00+08:00")));
  CHECK(hours.is_open(T("2026-11-21T00:00:00+08:00")));  // midnight is inside
  CHECK(hours.is_open(T("2026-11-21T01:59:59.999+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-21T02:00:00+08:00")));
  // midnight is no change
  CHECK(hours.next_change_after(T("2026-11-20T22:00:00+08:00")) == T("2026-11-21T02:00:00+08:00"));
  // a calendar day holds 00:00-02:00 (from the day before) and 22:00-24:00
  CHECK(hours.business_time_between(T("2026-11-20T00:00:00+08:00"),
                                    T("2026-11-21T00:00:00+08:00")) == hrs(4));
  // 1m before 02:00, then 2m after 22:00 the same day
  CHECK(hours.add_business_time(T("2026-11-21T01:59:00+08:00"), mins(3)) ==
        T("2026-11-21T22:02:00+08:00"));
  // across midnight without a break
  CHECK(hours.add_business_time(T("2026-11-20T23:59:00+08:00"), mins(3)) ==
        T("2026-11-21T00:02:00+08:00"));
}

TEST_CASE("service_hours: a closed override keeps the overnight interval of the day before",
          "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(22, 0), hm(2, 0))},
                              {HoursOverride{kNov21, true, {}}}};
  const ServiceHours hours(&spec, shanghai());
  // the interval starting Friday 22:00 still runs into the closed Saturday until 02:00
  CHECK(hours.is_open(T("2026-11-21T01:00:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-21T02:00:00+08:00")));
  // Saturday's own 22:00 interval is gone, including its part on Sunday morning
  CHECK_FALSE(hours.is_open(T("2026-11-21T22:30:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-22T01:00:00+08:00")));
  CHECK(hours.is_open(T("2026-11-22T22:00:00+08:00")));
  CHECK(hours.next_change_after(T("2026-11-21T02:00:00+08:00")) == T("2026-11-22T22:00:00+08:00"));
  // 1m left on Saturday morning, 2m from Sunday 22:00
  CHECK(hours.add_business_time(T("2026-11-21T01:59:00+08:00"), mins(3)) ==
        T("2026-11-22T22:02:00+08:00"));
}

TEST_CASE("service_hours: overrides replace a date's hours", "[service_hours]") {
  const ServiceHoursSpec spec{
      {weekly(kEveryDay, hm(9, 0), hm(23, 0))},
      {HoursOverride{kNov11, false, {{0, 1440}}},
       HoursOverride{kNov20, false, {{hm(10, 0), hm(12, 0)}}}, HoursOverride{kNov21, true, {}}}};
  const ServiceHours hours(&spec, shanghai());
  // 2026-11-11 open all day
  CHECK(hours.is_open(T("2026-11-11T00:00:00+08:00")));
  CHECK(hours.is_open(T("2026-11-11T03:00:00+08:00")));
  CHECK(hours.is_open(T("2026-11-11T23:59:59.999+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-12T00:00:00+08:00")));
  CHECK(hours.next_change_after(T("2026-11-10T23:00:00+08:00")) == T("2026-11-11T00:00:00+08:00"));
  CHECK(hours.next_change_after(T("2026-11-11T00:00:00+08:00")) == T("2026-11-12T00:00:00+08:00"));
  // 2026-11-20 only 10:00-12:00
  CHECK_FALSE(hours.is_open(T("2026-11-20T09:30:00+08:00")));
  CHECK(hours.is_open(T("2026-11-20T10:00:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-20T12:00:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-20T22:00:00+08:00")));
  // 2026-11-21 closed
  CHECK_FALSE(hours.is_open(T("2026-11-21T12:00:00+08:00")));
  CHECK(hours.is_open(T("2026-11-22T09:00:00+08:00")));
  // from 11:59 on the 20th: 1m there, nothing on the closed 21st, 2m on the 22nd
  CHECK(hours.add_business_time(T("2026-11-20T11:59:00+08:00"), mins(3)) ==
        T("2026-11-22T09:02:00+08:00"));
  CHECK(hours.business_time_between(T("2026-11-20T12:00:00+08:00"),
                                    T("2026-11-22T09:00:00+08:00")) == Duration(0));
  CHECK(hours.next_change_after(T("2026-11-20T12:00:00+08:00")) == T("2026-11-22T09:00:00+08:00"));
}

TEST_CASE("service_hours: a closed override day is skipped by business time", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(9, 0), hm(23, 0))},
                              {HoursOverride{kNov21, true, {}}}};
  const ServiceHours hours(&spec, shanghai());
  // 1m on the 20th, the 21st closed, 2m on the 22nd
  CHECK(hours.add_business_time(T("2026-11-20T22:59:00+08:00"), mins(3)) ==
        T("2026-11-22T09:02:00+08:00"));
  CHECK(hours.business_time_between(T("2026-11-20T22:59:00+08:00"),
                                    T("2026-11-22T09:02:00+08:00")) == mins(3));
  CHECK(hours.next_change_after(T("2026-11-20T23:00:00+08:00")) == T("2026-11-22T09:00:00+08:00"));
}

TEST_CASE("service_hours: 24:00 joins the next day's midnight interval", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(18, 0), 1440), weekly(kEveryDay, 0, hm(3, 0))},
                              {}};
  const ServiceHours hours(&spec, shanghai());
  CHECK(hours.is_open(T("2026-11-20T23:59:59.999+08:00")));
  CHECK(hours.is_open(T("2026-11-21T00:00:00+08:00")));
  CHECK_FALSE(hours.is_open(T("2026-11-21T03:00:00+08:00")));
  // 18:00 to 03:00 is one run: midnight is no change
  CHECK(hours.next_change_after(T("2026-11-20T20:00:00+08:00")) == T("2026-11-21T03:00:00+08:00"));
  CHECK(hours.business_time_between(T("2026-11-20T18:00:00+08:00"),
                                    T("2026-11-21T03:00:00+08:00")) == hrs(9));
  CHECK(hours.add_business_time(T("2026-11-20T23:58:00+08:00"), mins(3)) ==
        T("2026-11-21T00:01:00+08:00"));
}

TEST_CASE("service_hours: no hours means never open", "[service_hours]") {
  const ServiceHours none(nullptr, shanghai());
  CHECK_FALSE(none.is_open(T("2026-11-20T10:00:00+08:00")));
  CHECK(none.add_business_time(T("2026-11-20T10:00:00+08:00"), mins(3)) == replywatch::kInstantMax);
  CHECK(none.next_change_after(T("2026-11-20T10:00:00+08:00")) == replywatch::kInstantMax);
  CHECK(none.business_time_between(T("2026-11-20T00:00:00+08:00"),
                                   T("2026-11-27T00:00:00+08:00")) == Duration(0));
  const ServiceHoursSpec empty{};
  const ServiceHours also_none(&empty, shanghai());
  CHECK_FALSE(also_none.is_open(T("2026-11-20T10:00:00+08:00")));
  CHECK(also_none.add_business_time(T("2026-11-20T10:00:00+08:00"), mins(3)) ==
        replywatch::kInstantMax);
}

TEST_CASE("service_hours: DST spring forward in America/Los_Angeles", "[service_hours]") {
  const ServiceHoursSpec daily{{weekly(kEveryDay, hm(9, 0), hm(17, 0))}, {}};
  const ServiceHours hours(&daily, los_angeles());
  // 02:30 does not exist on 2026-03-08: it moves forward by the 1h gap to 03:30 PDT = 10:30Z
  CHECK(hours.to_instant(kMar08, hm(2, 30)) == T("2026-03-08T10:30:00Z"));
  // 02:00 becomes 03:00 PDT
  CHECK(hours.to_instant(kMar08, hm(2, 0)) == T("2026-03-08T10:00:00Z"));
  CHECK(hours.to_instant(kMar08, hm(1, 59)) == T("2026-03-08T09:59:00Z"));  // PST, UTC-8
  CHECK(hours.to_instant(kMar08, hm(9, 0)) == T("2026-03-08T16:00:00Z"));   // PDT, UTC-7
  CHECK(hours.to_instant(kMar07, hm(9, 0)) == T("2026-03-07T17:00:00Z"));   // PST, UTC-8
  CHECK(hours.local_day(T("2026-03-08T07:59:59.999Z")) == kMar07);          // 23:59:59 PST
  CHECK(hours.local_day(T("2026-03-08T08:00:00Z")) == kMar08);
  CHECK_FALSE(hours.is_open(T("2026-03-08T15:59:59.999Z")));  // 08:59:59 PDT
  CHECK(hours.is_open(T("2026-03-08T16:00:00Z")));            // 09:00 PDT
  // Saturday 16:59 PST (00:59Z) + 3m: 1m Saturday, 2m from Sunday 09:00 PDT
  CHECK(hours.add_business_time(T("2026-03-08T00:59:00Z"), mins(3)) == T("2026-03-08T16:02:00Z"));

  // 01:00-04:00 local on the short day is 09:00Z-11:00Z: 2h of open time
  const ServiceHoursSpec short_day{{}, {HoursOverride{kMar08, false, {{hm(1, 0), hm(4, 0)}}}}};
  const ServiceHours short_hours(&short_day, los_angeles());
  CHECK(short_hours.business_time_between(T("2026-03-08T00:00:00Z"), T("2026-03-09T00:00:00Z")) ==
        hrs(2));
  CHECK_FALSE(short_hours.is_open(T("2026-03-08T08:59:59.999Z")));
  CHECK(short_hours.is_open(T("2026-03-08T09:00:00Z")));
  CHECK(short_hours.is_open(T("2026-03-08T10:59:59.999Z")));
  CHECK_FALSE(short_hours.is_open(T("2026-03-08T11:00:00Z")));

  // 02:30-04:00 starts in the gap: 03:30 PDT (10:30Z) to 04:00 PDT (11:00Z)
  const ServiceHoursSpec gap_day{{}, {HoursOverride{kMar08, false, {{hm(2, 30), hm(4, 0)}}}}};
  const ServiceHours gap_hours(&gap_day, los_angeles());
  CHECK(gap_hours.business_time_between(T("2026-03-08T00:00:00Z"), T("2026-03-09T00:00:00Z")) ==
        mins(30));
  CHECK_FALSE(gap_hours.is_open(T("2026-03-08T10:29:59.999Z")));
  CHECK(gap_hours.is_open(T("2026-03-08T10:30:00Z")));
}

TEST_CASE("service_hours: DST fall back in America/Los_Angeles", "[service_hours]") {
  const ServiceHoursSpec daily{{weekly(kEveryDay, hm(9, 0), hm(17, 0))}, {}};
  const ServiceHours hours(&daily, los_angeles());
  // 01:30 occurs twice on 2026-11-01: the first (PDT, UTC-7) is 08:30Z, not 09:30Z
  CHECK(hours.to_instant(kNov01, hm(1, 30)) == T("2026-11-01T08:30:00Z"));
  CHECK(hours.to_instant(kNov01, hm(1, 0)) == T("2026-11-01T08:00:00Z"));
  CHECK(hours.to_instant(kNov01, hm(2, 0)) == T("2026-11-01T10:00:00Z"));  // PST
  CHECK(hours.to_instant(kNov01, hm(9, 0)) == T("2026-11-01T17:00:00Z"));  // PST, UTC-8
  CHECK_FALSE(hours.is_open(T("2026-11-01T16:59:59.999Z")));
  CHECK(hours.is_open(T("2026-11-01T17:00:00Z")));
  // Saturday 16:59 PDT (23:59Z) + 3m: 1m Saturday, 2m from Sunday 09:00 PST
  CHECK(hours.add_business_time(T("2026-10-31T23:59:00Z"), mins(3)) == T("2026-11-01T17:02:00Z"));

  // 00:00-03:00 local on the long day is 07:00Z-11:00Z: 4h of open time
  const ServiceHoursSpec long_day{{}, {HoursOverride{kNov01, false, {{0, hm(3, 0)}}}}};
  const ServiceHours long_hours(&long_day, los_angeles());
  CHECK(long_hours.business_time_between(T("2026-11-01T00:00:00Z"), T("2026-11-02T00:00:00Z")) ==
        hrs(4));
  CHECK(long_hours.is_open(T("2026-11-01T07:00:00Z")));
  CHECK(long_hours.is_open(T("2026-11-01T10:59:59.999Z")));
  CHECK_FALSE(long_hours.is_open(T("2026-11-01T11:00:00Z")));

  // 01:30-02:30: from the first 01:30 (08:30Z) to 02:30 PST (10:30Z): 2h
  const ServiceHoursSpec repeated{{}, {HoursOverride{kNov01, false, {{hm(1, 30), hm(2, 30)}}}}};
  const ServiceHours repeated_hours(&repeated, los_angeles());
  CHECK(repeated_hours.business_time_between(T("2026-11-01T00:00:00Z"),
                                             T("2026-11-02T00:00:00Z")) == hrs(2));
  CHECK_FALSE(repeated_hours.is_open(T("2026-11-01T08:29:59.999Z")));
  CHECK(repeated_hours.is_open(T("2026-11-01T08:30:00Z")));
}

TEST_CASE("service_hours: overnight windows across both DST changes", "[service_hours]") {
  const ServiceHoursSpec spec{{weekly(kEveryDay, hm(22, 0), hm(2, 0))}, {}};
  const ServiceHours hours(&spec, los_angeles());
  // 10-31 22:00 PDT (11-01 05:00Z) to 11-01 02:00 PST (10:00Z): 5h of real time
  CHECK(hours.business_time_between(T("2026-11-01T04:00:00Z"), T("2026-11-01T11:00:00Z")) ==
        hrs(5));
  CHECK(hours.is_open(T("2026-11-01T09:59:59.999Z")));
  CHECK_FALSE(hours.is_open(T("2026-11-01T10:00:00Z")));
  // 03-07 22:00 PST (03-08 06:00Z) to 03-08 02:00, which does not exist: 03:00 PDT (10:00Z)
  CHECK(hours.business_time_between(T("2026-03-08T05:00:00Z"), T("2026-03-08T11:00:00Z")) ==
        hrs(4));
  CHECK(hours.is_open(T("2026-03-08T09:59:59.999Z")));
  CHECK_FALSE(hours.is_open(T("2026-03-08T10:00:00Z")));
}

TEST_CASE("service_hours: a closed fortnight between weekly hours is crossed, not given up on",
          "[service_hours]") {
  // Mon-Fri 09:00-18:00; closed 2027-02-15 (Mon) through 2027-02-26 (Fri): from Friday
  // 2027-02-12 18:00 nothing opens until Monday 2027-03-01 09:00, 16 days later.
  constexpr std::int32_t kFeb15 = 20864;
  ServiceHoursSpec spec{{weekly(kMonToFri, hm(9, 0), hm(18, 0))}, {}};
  for (std::int32_t day = kFeb15; day < kFeb15 + 12; ++day) {
    spec.overrides.push_back(HoursOverride{day, true, {}});
  }
  const ServiceHours hours(&spec, shanghai());
  // 1m left on Friday, 2m on the first open morning
  CHECK(hours.add_business_time(T("2027-02-12T17:59:00+08:00"), mins(3)) ==
        T("2027-03-01T09:02:00+08:00"));
  CHECK(hours.next_change_after(T("2027-02-12T18:00:00+08:00")) == T("2027-03-01T09:00:00+08:00"));
  CHECK_FALSE(hours.is_open(T("2027-02-22T10:00:00+08:00")));
}

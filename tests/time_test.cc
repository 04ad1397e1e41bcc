#include "replywatch/time.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>

using replywatch::Duration;
using replywatch::format_duration_human;
using replywatch::format_rfc3339;
using replywatch::Instant;
using replywatch::parse_duration;
using replywatch::parse_rfc3339;

namespace {

// 2026-11-22T15:00:00Z in epoch milliseconds (20779 days * 86400000 + 15h).
constexpr std::int64_t k20261122T15 = 1795359600000;

std::int64_t epoch_ms(const std::optional<Instant>& t) {
  REQUIRE(t.has_value());
  return t->time_since_epoch().count();
}

}  // namespace

TEST_CASE("time: parse_duration accepts an integer with ms, s, m, h or d", "[time]") {
  CHECK(parse_duration("250ms") == Duration(250));
  CHECK(parse_duration("90s") == Duration(90'000));
  CHECK(parse_duration("3m") == Duration(180'000));
  CHECK(parse_duration("2h") == Duration(7'200'000));
  // 1d is exactly 86 400 000 ms (wall time, whatever the DST)
  CHECK(parse_duration("1d") == Duration(86'400'000));
  CHECK(parse_duration("30d") == Duration(2'592'000'000));
  CHECK(parse_duration("0s") == Duration(0));
  CHECK(parse_duration("600s") == Duration(600'000));
}

TEST_CASE("time: parse_duration rejects other forms", "[time]") {
  CHECK_FALSE(parse_duration("3 min").has_value());  // space and a word unit
  CHECK_FALSE(parse_duration("3 m").has_value());    // space before the unit
  CHECK_FALSE(parse_duration("1.5h").has_value());   // not an integer
  CHECK_FALSE(parse_duration("-1s").has_value());    // negative
  CHECK_FALSE(parse_duration("+1s").has_value());    // sign
  CHECK_FALSE(parse_duration("").has_value());       // empty
  CHECK_FALSE(parse_duration("10").has_value());     // no unit
  CHECK_FALSE(parse_duration("s").has_value());      // no number
  CHECK_FALSE(parse_duration("1w").has_value());     // unknown unit
  CHECK_FALSE(parse_duration("3M").has_value());     // units are lowercase
  CHECK_FALSE(parse_duration(" 3m").has_value());    // leading space
  CHECK_FALSE(parse_duration("3m ").has_value());    // trailing space
  CHECK_FALSE(parse_duration("1h30m").has_value());  // one unit only
}

TEST_CASE("time: parse_rfc3339 with Z and offsets", "[time]") {
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00Z")) == k20261122T15);
  // +08:00 local 23:00 is 15:00Z
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T23:00:00+08:00")) == k20261122T15);
  // -05:00 local 10:00 is 15:00Z
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T10:00:00-05:00")) == k20261122T15);
  // +05:30 local 20:30 is 15:00Z
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T20:30:00+05:30")) == k20261122T15);
  // an offset that crosses midnight: 2026-11-23T01:00+08:00 is 2026-11-22T17:00Z
  CHECK(epoch_ms(parse_rfc3339("2026-11-23T01:00:00+08:00")) == k20261122T15 + 2 * 3'600'000);
  CHECK(epoch_ms(parse_rfc3339("1970-01-01T00:00:00Z")) == 0);
  // +00:00 is the same as Z
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00+00:00")) == k20261122T15);
}

TEST_CASE("time: parse_rfc3339 accepts lowercase t and z", "[time]") {
  CHECK(epoch_ms(parse_rfc3339("2026-11-22t15:00:00z")) == k20261122T15);
  CHECK(epoch_ms(parse_rfc3339("2026-11-22t15:00:00Z")) == k20261122T15);
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00z")) == k20261122T15);
  CHECK(epoch_ms(parse_rfc3339("2026-11-22t23:00:00+08:00")) == k20261122T15);
}

TEST_CASE("time: parse_rfc3339 keeps milliseconds and truncates below", "[time]") {
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00.123Z")) == k20261122T15 + 123);
  // 0.5 s is 500 ms
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00.5Z")) == k20261122T15 + 500);
  // 0.05 s is 50 ms
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00.05Z")) == k20261122T15 + 50);
  // sub-ms digits are truncated, not rounded: .3456 -> 345
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:12.3456Z")) == k20261122T15 + 12'345);
  // .999999 stays within the same second
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T15:00:00.999999999Z")) == k20261122T15 + 999);
  // fraction with an offset
  CHECK(epoch_ms(parse_rfc3339("2026-11-22T23:00:00.001+08:00")) == k20261122T15 + 1);
}

TEST_CASE("time: parse_rfc3339 rejects impossible dates and malformed text", "[time]") {
  CHECK_FALSE(parse_rfc3339("2026-02-30T00:00:00Z").has_value());      // Feb 30
  CHECK_FALSE(parse_rfc3339("2026-02-29T00:00:00Z").has_value());      // 2026 is not a leap year
  CHECK(parse_rfc3339("2028-02-29T00:00:00Z").has_value());            // 2028 is
  CHECK_FALSE(parse_rfc3339("2026-04-31T00:00:00Z").has_value());      // April has 30 days
  CHECK_FALSE(parse_rfc3339("2026-13-01T00:00:00Z").has_value());      // month 13
  CHECK_FALSE(parse_rfc3339("2026-00-10T00:00:00Z").has_value());      // month 0
  CHECK_FALSE(parse_rfc3339("2026-11-00T00:00:00Z").has_value());      // day 0
  CHECK_FALSE(parse_rfc3339("2026-11-22T24:00:00Z").has_value());      // hour 24
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:60:00Z").has_value());      // minute 60
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00:00").has_value());       // missing zone
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00Z").has_value());         // missing seconds
  CHECK_FALSE(parse_rfc3339("2026-11-22").has_value());                // date only
  CHECK_FALSE(parse_rfc3339("2026-11-22X15:00:00Z").has_value());      // bad separator
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00:00.Z").has_value());     // empty fraction
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00:00+0800").has_value());  // offset without colon
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00:00+08").has_value());    // offset without minutes
  CHECK_FALSE(parse_rfc3339("2026-11-22T15:00:00Zjunk").has_value());  // trailing text
  CHECK_FALSE(parse_rfc3339("").has_value());
  CHECK_FALSE(parse_rfc3339("1795359600000").has_value());  // epoch ms is not RFC 3339
}

TEST_CASE("time: format_rfc3339 prints UTC with milliseconds", "[time]") {
  CHECK(format_rfc3339(Instant(Duration(0))) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(Instant(Duration(k20261122T15))) == "2026-11-22T15:00:00.000Z");
  CHECK(format_rfc3339(Instant(Duration(k20261122T15 + 7))) == "2026-11-22T15:00:00.007Z");
  // an offset input comes back as UTC
  CHECK(format_rfc3339(*parse_rfc3339("2026-11-23T01:02:03.456+08:00")) ==
        "2026-11-22T17:02:03.456Z");
}

TEST_CASE("time: format_rfc3339 and parse_rfc3339 round trip", "[time]") {
  for (const char* text :
       {"2026-11-22T15:00:00.000Z", "2026-03-08T10:30:00.001Z", "2028-02-29T23:59:59.999Z",
        "1999-12-31T00:00:00.500Z", "9999-12-31T23:59:59.999Z"}) {
    INFO(text);
    const auto parsed = parse_rfc3339(text);
    REQUIRE(parsed.has_value());
    CHECK(format_rfc3339(*parsed) == text);
    CHECK(parse_rfc3339(format_rfc3339(*parsed)) == parsed);
  }
  // the latest instant an event may name
  CHECK(epoch_ms(parse_rfc3339("9999-12-31T23:59:59.999Z")) == replywatch::kMaxEpochMillis);
}

TEST_CASE("time: format_duration_human", "[time]") {
  // the documented examples of time.h
  CHECK(format_duration_human(Duration(0)) == "0s");
  CHECK(format_duration_human(Duration(850)) == "850ms");
  CHECK(format_duration_human(Duration(45'000)) == "45s");
  CHECK(format_duration_human(Duration(150'000)) == "2m30s");    // 2 min 30 s
  CHECK(format_duration_human(Duration(3'900'000)) == "1h05m");  // 1 h 5 min
  CHECK(format_duration_human(Duration((3 * 24 + 4) * 3'600'000LL)) == "3d4h");
}

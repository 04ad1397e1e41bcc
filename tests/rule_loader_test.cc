#include "replywatch/rule_loader.h"

#include <date/tz.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace replywatch {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kFile = "rules/t.yaml";

// The raw strings below start with a newline so the YAML lines up in the source; drop it, so that
// line 1 of the file is the first YAML line.
std::string_view strip_leading_newline(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return yaml;
}

RuleLoadResult load(std::string_view yaml) {
  return load_rule_text(strip_leading_newline(yaml), kFile);
}

// Every error as "FILE:LINE:COL: message", to compare whole lists at once.
std::vector<std::string> errors_of(const RuleLoadResult& result) {
  std::vector<std::string> lines;
  for (const RuleError& error : result.errors) lines.push_back(error.to_string());
  return lines;
}

std::vector<std::string> errors_of(std::string_view yaml) { return errors_of(load(yaml)); }

std::string at(int line, int column, std::string_view message) {
  return std::string(kFile) + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
         std::string(message);
}

const PlatformRules& only_platform(const RuleLoadResult& result) {
  REQUIRE(result.ok());
  REQUIRE(result.rules.platforms.size() == 1);
  return result.rules.platforms.front();
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("replywatch-rule-loader-" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  void write(const std::string& name, std::string_view yaml) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out << strip_leading_newline(yaml);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

constexpr std::string_view kSpecExample = R"(
platform: tmall                 # [a-z0-9_-]+, unique across files
timezone: Asia/Shanghai         # IANA name
service_hours:
  weekly:                       # several entries per day allowed (split shifts)
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"               # "24:00" allowed; to < from means the window runs past midnight
  overrides:                    # a date's entry replaces that date's weekly hours
    - date: "2026-11-11"
      hours: [{from: "00:00", to: "24:00"}]
    - date: "2027-02-17"
      closed: true
sessions:
  idle_timeout: 30m             # default 30m
replies:
  counted_bots: [leyan, xiaowei, xiaoduo, chitu, guangyun]   # default []
slas:
  - name: first_reply_3m        # [a-z0-9_]+, unique in the file
    kind: reply_time
    rounds: first               # first | every (default every)
    replies: counted            # counted | human (default counted)
    deadline: 3m
    warn_before: 60s            # optional
    hours: service              # service | always (default always)
    outside_hours: defer        # defer | exclude (default defer; only with hours: service)
    objective: 0.90             # optional, 0 < objective < 1
    window: 30d                 # default 1d
    resolution: 1d              # at most 1d; default: 1m if window <= 1d, 1h if window <= 7d, else 1d
    min_rounds: 100             # default 1
  - name: average_response_40s
    kind: average_response
    rounds: every
    replies: human
    max_average: 40s
    unanswered_cost: 600s       # required
    window: 30d
  - name: agent_online
    kind: agent_presence
    min_online: 1               # default 1
    grace: 30s                  # default 0s
    hours: service
)";

TEST_CASE("rule_loader: the full example loads with every field set") {
  const RuleLoadResult result = load(kSpecExample);
  INFO(Catch::Detail::stringify(errors_of(result)));
  const PlatformRules& rules = only_platform(result);

  CHECK(rules.platform == "tmall");
  CHECK(rules.file == kFile);
  CHECK(rules.timezone_name == "Asia/Shanghai");
  REQUIRE(rules.timezone != nullptr);
  CHECK(rules.timezone->name() == "Asia/Shanghai");
  CHECK(rules.idle_timeout == 30min);
  CHECK(rules.counted_bots ==
        std::vector<std::string>{"leyan", "xiaowei", "xiaoduo", "chitu", "guangyun"});

  REQUIRE(rules.service_hours.has_value());
  const ServiceHoursSpec& hours = *rules.service_hours;
  REQUIRE(hours.weekly.size() == 1);
  CHECK(hours.weekly[0].weekday_mask == 0b111'1111);
  CHECK(hours.weekly[0].interval.from_minute == 9 * 60);
  CHECK(hours.weekly[0].interval.to_minute == 23 * 60);
  REQUIRE(hours.overrides.size() == 2);
  CHECK(hours.overrides[0].local_day == 20768);  // 2026-11-11
  CHECK_FALSE(hours.overrides[0].closed);
  REQUIRE(hours.overrides[0].intervals.size() == 1);
  CHECK(hours.overrides[0].intervals[0].from_minute == 0);
  CHECK(hours.overrides[0].intervals[0].to_minute == 1440);
  CHECK(hours.overrides[1].local_day == 20866);  // 2027-02-17
  CHECK(hours.overrides[1].closed);
  CHECK(hours.overrides[1].intervals.empty());

  REQUIRE(rules.slas.size() == 3);
  const Sla& first = rules.slas[0];
  CHECK(first.name == "first_reply_3m");
  CHECK(first.kind == SlaKind::kReplyTime);
  CHECK(first.position.line == 18);
  CHECK(first.position.column == 5);
  CHECK(first.rounds == RoundScope::kFirst);
  CHECK(first.replies == ReplyView::kCounted);
  CHECK(first.deadline == 3min);
  REQUIRE(first.warn_before.has_value());
  CHECK(*first.warn_before == 60s);
  CHECK(first.hours == HoursMode::kService);
  CHECK(first.outside_hours == OutsideHours::kDefer);
  REQUIRE(first.objective.has_value());
  CHECK(*first.objective == Approx(0.90));
  CHECK(first.window == std::chrono::days(30));
  CHECK(first.resolution == std::chrono::days(1));
  CHECK(first.min_rounds == 100);

  const Sla& average = rules.slas[1];
  CHECK(average.name == "average_response_40s");
  CHECK(average.kind == SlaKind::kAverageResponse);
  CHECK(average.position.line == 30);
  CHECK(average.position.column == 5);
  CHECK(average.rounds == RoundScope::kEvery);
  CHECK(average.replies == ReplyView::kHuman);
  CHECK(average.max_average == 40s);
  CHECK(average.unanswered_cost == 600s);
  CHECK(average.hours == HoursMode::kAlways);
  CHECK(average.window == std::chrono::days(30));
  CHECK(average.resolution == std::chrono::days(1));  // default for a window over 7d
  CHECK(average.min_rounds == 1);

  const Sla& presence = rules.slas[2];
  CHECK(presence.name == "agent_online");
  CHECK(presence.kind == SlaKind::kAgentPresence);
  CHECK(presence.position.line == 37);
  CHECK(presence.min_online == 1);
  CHECK(presence.grace == 30s);
  CHECK(presence.hours == HoursMode::kService);
}

TEST_CASE("rule_loader: optional keys take their defaults") {
  const RuleLoadResult result = load(R"(
platform: jd-pop_2
timezone: UTC
slas:
  - name: reply
    kind: reply_time
    deadline: 90s
  - name: presence
    kind: agent_presence
  - name: three_days
    kind: average_response
    max_average: 1m
    unanswered_cost: 10m
    window: 7d
  - name: eight_days
    kind: reply_time
    deadline: 250ms
    window: 8d
  - name: explicit_resolution
    kind: reply_time
    deadline: 1h
    window: 12h
    resolution: 30m
)");
  INFO(Catch::Detail::stringify(errors_of(result)));
  const PlatformRules& rules = only_platform(result);
  CHECK(rules.platform == "jd-pop_2");
  CHECK_FALSE(rules.service_hours.has_value());
  CHECK(rules.idle_timeout == 30min);
  CHECK(rules.counted_bots.empty());

  REQUIRE(rules.slas.size() == 5);
  const Sla& reply = rules.slas[0];
  CHECK(reply.rounds == RoundScope::kEvery);
  CHECK(reply.replies == ReplyView::kCounted);
  CHECK(reply.deadline == 90s);
  CHECK_FALSE(reply.warn_before.has_value());
  CHECK(reply.hours == HoursMode::kAlways);
  CHECK(reply.outside_hours == OutsideHours::kDefer);
  CHECK_FALSE(reply.objective.has_value());
  CHECK(reply.window == std::chrono::days(1));
  CHECK(reply.resolution == 1min);
  CHECK(reply.min_rounds == 1);

  const Sla& presence = rules.slas[1];
  CHECK(presence.min_online == 1);
  CHECK(presence.grace == 0s);
  CHECK(presence.hours == HoursMode::kAlways);

  CHECK(rules.slas[2].resolution == 1h);
  CHECK(rules.slas[3].deadline == 250ms);
  CHECK(rules.slas[3].resolution == std::chrono::days(1));
  CHECK(rules.slas[4].window == 12h);
  CHECK(rules.slas[4].resolution == 30min);
}

TEST_CASE(
    "rule_loader: service hours accept overnight, 24:00, split shifts and unordered overrides") {
  const RuleLoadResult result = load(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [sun, sat]
      from: "22:00"
      to: "02:00"
    - days: [mon]
      from: "09:00"
      to: "12:00"
    - days: [mon]
      from: "13:00"
      to: "24:00"
  overrides:
    - date: "2026-12-24"
      closed: true
    - date: 2026-01-01
      hours:
        - {from: "10:00", to: "12:00"}
        - {from: "20:00", to: "01:00"}
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    hours: service
    outside_hours: exclude
)");
  INFO(Catch::Detail::stringify(errors_of(result)));
  const PlatformRules& rules = only_platform(result);
  const ServiceHoursSpec& hours = *rules.service_hours;
  REQUIRE(hours.weekly.size() == 3);
  CHECK(hours.weekly[0].weekday_mask == 0b100'0001);  // bit 0 = sun, bit 6 = sat
  CHECK(hours.weekly[0].interval.from_minute == 22 * 60);
  CHECK(hours.weekly[0].interval.to_minute == 2 * 60);
  CHECK(hours.weekly[1].weekday_mask == 0b000'0010);
  CHECK(hours.weekly[2].interval.to_minute == 1440);

  REQUIRE(hours.overrides.size() == 2);
  CHECK(hours.overrides[0].local_day == 20454);  // 2026-01-01, sorted before 2026-12-24
  REQUIRE(hours.overrides[0].intervals.size() == 2);
  CHECK(hours.overrides[0].intervals[1].from_minute == 20 * 60);
  CHECK(hours.overrides[0].intervals[1].to_minute == 60);
  CHECK(hours.overrides[1].local_day == 20811);
  CHECK(hours.overrides[1].closed);

  CHECK(rules.slas[0].hours == HoursMode::kService);
  CHECK(rules.slas[0].outside_hours == OutsideHours::kExclude);
}

TEST_CASE("rule_loader: unknown keys are reported at the key, at every level") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
colour: blue
sessions:
  idle: 5m
service_hours:
  weekly:
    - days: [mon]
      from: "09:00"
      to: "18:00"
      until: "19:00"
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    dedline: 3m
)") == std::vector<std::string>{
           at(3, 1,
              "unknown key \"colour\", expected platform, timezone, service_hours, sessions, "
              "replies, slas or shops"),
           at(5, 3, "unknown key \"idle\", expected idle_timeout"),
           at(11, 7, "unknown key \"until\", expected days, from or to"),
           at(16, 5, "unknown key \"dedline\""),
       });
}

TEST_CASE("rule_loader: bad values are reported at the value") {
  CHECK(errors_of(R"(
platform: Tmall
timezone: Mars/Olympus
sessions:
  idle_timeout: 3 min
slas:
  - name: First-Reply
    kind: reply_time
    rounds: second
    replies: bots
    deadline: 0s
    objective: 1
    min_rounds: 0
    hours: sometimes
  - name: avg
    kind: average_response
    max_average: 40
    unanswered_cost: 10m
  - name: online
    kind: agent_presence
    min_online: -1
    grace: soon
)") == std::vector<std::string>{
           at(1, 11, "bad platform \"Tmall\", expected lowercase letters, digits, _ and -"),
           at(2, 11,
              "unknown time zone \"Mars/Olympus\", expected an IANA name like Asia/Shanghai"),
           at(4, 17, "bad duration \"3 min\", expected an integer followed by ms, s, m, h or d"),
           at(6, 11, "bad SLA name \"First-Reply\", expected lowercase letters, digits and _"),
           at(8, 13, "bad rounds \"second\", expected first or every"),
           at(9, 14, "bad replies \"bots\", expected counted or human"),
           at(10, 15, "deadline must be greater than 0"),
           at(11, 16, "objective must be a number between 0 and 1 (exclusive), got \"1\""),
           at(12, 17, "min_rounds must be a whole number of at least 1, got \"0\""),
           at(13, 12, "bad hours \"sometimes\", expected service or always"),
           at(16, 18, "bad duration \"40\", expected an integer followed by ms, s, m, h or d"),
           at(20, 17, "min_online must be a whole number of at least 1, got \"-1\""),
           at(21, 12, "bad duration \"soon\", expected an integer followed by ms, s, m, h or d"),
       });
}

TEST_CASE("rule_loader: bad service hours are reported at the value") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue]
      from: "22:00"
      to: "02:00"
    - days: [wed, someday, wed]
      from: "24:00"
      to: "9:00"
    - days: []
      from: "10:00"
      to: "10:00"
    - days: [sun]
      from: "08:00"
      to: "24:01"
  overrides:
    - date: "2026-11-11"
      hours: [{from: "00:00", to: "24:00"}]
    - date: "2026-11-11"
      closed: true
    - date: "2026-02-29"
      closed: true
    - date: "2026-12-24"
      closed: false
    - date: "2026-12-25"
    - date: "2026-12-26"
      closed: true
      hours: [{from: "09:00", to: "12:00"}]
    - date: 2026/12/31
      hours: []
slas:
  - name: a
    kind: reply_time
    deadline: 3m
)") == std::vector<std::string>{
           at(8, 19, "unknown day \"someday\", expected mon, tue, wed, thu, fri, sat or sun"),
           at(8, 28, "day \"wed\" is listed twice"),
           at(9, 13, "\"24:00\" is allowed only for to"),
           at(10, 11, "bad time \"9:00\", expected \"HH:MM\" from 00:00 to 24:00"),
           at(11, 13, "days must not be empty, expected days like [mon, tue]"),
           at(13, 11, "empty interval: from and to are both 10:00"),
           at(16, 11, "bad time \"24:01\", expected \"HH:MM\" from 00:00 to 24:00"),
           at(20, 13, "duplicate override for 2026-11-11"),
           at(22, 13, "bad date \"2026-02-29\", expected a real date as \"YYYY-MM-DD\""),
           at(25, 15, "closed must be true (give hours instead to open), got \"false\""),
           at(26, 7, "missing key \"hours\" or \"closed\""),
           at(28, 7, "an override takes either hours or closed: true, not both"),
           at(30, 13, "bad date \"2026/12/31\", expected a real date as \"YYYY-MM-DD\""),
           at(31, 14, "hours must not be empty, use closed: true for a closed day"),
       });
}

TEST_CASE("rule_loader: missing required keys are reported at the enclosing mapping") {
  CHECK(errors_of(R"(
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon]
      from: "09:00"
  overrides:
    - closed: true
slas:
  - kind: reply_time
  - name: avg
    kind: average_response
  - name: presence
)") == std::vector<std::string>{
           at(1, 1, "missing key \"platform\""),
           at(4, 7, "missing key \"to\""),
           at(7, 7, "missing key \"date\""),
           at(9, 5, "missing key \"name\""),
           at(9, 5, "missing key \"deadline\""),
           at(10, 5, "missing key \"max_average\""),
           at(10, 5, "missing key \"unanswered_cost\""),
           at(12, 5, "missing key \"kind\""),
       });
}

TEST_CASE("rule_loader: a key of another SLA kind is an error at the key") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: avg
    kind: average_response
    max_average: 40s
    unanswered_cost: 10m
    warn_before: 1m
    deadline: 3m
  - name: online
    kind: agent_presence
    window: 1d
    rounds: first
    objective: 0.9
  - name: reply
    kind: reply_time
    deadline: 3m
    grace: 30s
    min_online: 2
)") == std::vector<std::string>{
           at(8, 5, "key \"warn_before\" does not apply to kind average_response"),
           at(9, 5, "key \"deadline\" does not apply to kind average_response"),
           at(12, 5, "key \"window\" does not apply to kind agent_presence"),
           at(13, 5, "key \"rounds\" does not apply to kind agent_presence"),
           at(14, 5, "key \"objective\" does not apply to kind agent_presence"),
           at(18, 5, "key \"grace\" does not apply to kind reply_time"),
           at(19, 5, "key \"min_online\" does not apply to kind reply_time"),
       });
}

TEST_CASE("rule_loader: channels lists distinct channel names for reply SLAs") {
  const RuleLoadResult loaded = load(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: email
    kind: reply_time
    deadline: 24h
    channels: [email]
  - name: chat
    kind: average_response
    max_average: 40s
    unanswered_cost: 10m
    channels: [chat, whatsapp]
  - name: any
    kind: reply_time
    deadline: 3m
)");
  const PlatformRules& platform = only_platform(loaded);
  CHECK(platform.slas[0].channels == std::vector<std::string>{"email"});
  CHECK(platform.slas[1].channels == std::vector<std::string>{"chat", "whatsapp"});
  CHECK(platform.slas[2].channels.empty());

  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    channels: []
  - name: b
    kind: reply_time
    deadline: 3m
    channels: [chat, "", chat]
  - name: c
    kind: agent_presence
    channels: [chat]
)") == std::vector<std::string>{
           at(7, 15, "channels must name at least one channel"),
           at(11, 22, "channel name must not be empty"),
           at(11, 26, "duplicate channel \"chat\""),
           at(14, 5, "key \"channels\" does not apply to kind agent_presence"),
       });
  // Not a list: one error at the value.
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    channels: chat
)")
            .size() == 1);
}

TEST_CASE("rule_loader: window must be a positive multiple of a resolution of at most 1d") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    window: 30d
    resolution: 7h
  - name: b
    kind: reply_time
    deadline: 3m
    window: 90s
  - name: c
    kind: reply_time
    deadline: 3m
    resolution: 7h
  - name: d
    kind: reply_time
    deadline: 3m
    resolution: 2d
  - name: e
    kind: average_response
    max_average: 40s
    unanswered_cost: 10m
    window: 0d
  - name: f
    kind: reply_time
    deadline: 3m
    window: 170h
)") == std::vector<std::string>{
           at(7, 13, "window 30d is not a multiple of resolution 7h"),
           at(12, 13, "window 90s is not a multiple of resolution 1m"),
           at(16, 17, "window 1d is not a multiple of resolution 7h"),
           at(20, 17, "resolution 2d is longer than the maximum 1d"),
           at(25, 13, "window must be greater than 0"),
           at(29, 13, "window 170h is not a multiple of resolution 1d"),
       });
}

TEST_CASE("rule_loader: warn_before, hours and outside_hours are checked against each other") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    warn_before: 4m
    hours: service
  - name: b
    kind: reply_time
    deadline: 3m
    warn_before: 3m
    outside_hours: exclude
  - name: c
    kind: agent_presence
    hours: service
  - name: d
    kind: average_response
    max_average: 40s
    unanswered_cost: 10m
    hours: always
    outside_hours: defer
)") == std::vector<std::string>{
           at(7, 18, "warn_before 4m is longer than deadline 3m"),
           at(8, 12, "hours: service needs service_hours"),
           at(13, 20, "outside_hours applies only with hours: service"),
           at(16, 12, "hours: service needs service_hours"),
           at(22, 20, "outside_hours applies only with hours: service"),
       });
}

TEST_CASE("rule_loader: SLA names are unique and an SLA list is bounded") {
  SECTION("duplicate name, at the second name") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - {name: a, kind: reply_time, deadline: 3m}
  - {name: a, kind: reply_time, deadline: 5m}
)") == std::vector<std::string>{at(5, 12, "duplicate SLA name \"a\"")});
  }
  SECTION("empty list") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas: []
)") == std::vector<std::string>{at(3, 7, "slas must not be empty, expected at least one SLA")});
  }
  SECTION("the limit is allowed, one more is not") {
    std::string yaml = "platform: tmall\ntimezone: Asia/Shanghai\nslas:\n";
    for (std::size_t i = 0; i < kMaxSlasPerPlatform; ++i) {
      yaml += "  - {name: s" + std::to_string(i) + ", kind: reply_time, deadline: 3m}\n";
    }
    CHECK(load_rule_text(yaml, kFile).ok());
    yaml += "  - {name: one_too_many, kind: reply_time, deadline: 3m}\n";
    const int line = 4 + static_cast<int>(kMaxSlasPerPlatform);
    CHECK(errors_of(load_rule_text(yaml, kFile)) ==
          std::vector<std::string>{at(line, 5, "too many SLAs, at most 32 per file")});
  }
}

TEST_CASE("rule_loader: every error of a file is reported, across SLAs, in position order") {
  const RuleLoadResult result = load(R"(
slas:
  - name: a
    kind: reply_time
    deadline: soon
  - name: b
    kind: reply_time
    deadline: 3m
    objective: 2
platform: tmall
timezone: Nowhere/Town
)");
  CHECK_FALSE(result.ok());
  CHECK(result.rules.platforms.empty());
  CHECK(errors_of(result) ==
        std::vector<std::string>{
            at(4, 15, "bad duration \"soon\", expected an integer followed by ms, s, m, h or d"),
            at(8, 16, "objective must be a number between 0 and 1 (exclusive), got \"2\""),
            at(10, 11,
               "unknown time zone \"Nowhere/Town\", expected an IANA name like Asia/Shanghai"),
        });
}

TEST_CASE("rule_loader: wrong node types are errors, not exceptions") {
  SECTION("top level values") {
    CHECK(errors_of(R"(
platform: [tmall]
timezone: {name: Asia/Shanghai}
service_hours: "09:00-18:00"
sessions: 30m
replies:
  counted_bots: leyan
slas:
  name: a
)") == std::vector<std::string>{
           at(1, 11, "platform must be a name like tmall, got a list"),
           at(2, 11, "timezone must be a time zone like Asia/Shanghai, got a mapping"),
           at(3, 16, "service_hours must be a mapping, got \"09:00-18:00\""),
           at(4, 11, "sessions must be a mapping, got \"30m\""),
           at(6, 17, "counted_bots must be a list, got \"leyan\""),
           at(8, 3, "slas must be a list, got a mapping"),
       });
  }
  SECTION("nested values, and an empty value reported at its key") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
service_hours:
  weekly:
    days: [mon]
  overrides:
    - "2026-11-11"
replies:
  counted_bots: [leyan, [xiaoduo], ""]
slas:
  - just_a_name
  - name: a
    kind: reply_time
    deadline: [3m]
    min_rounds: 1.5
    objective: high
  - name: b
    kind:
    deadline: 3m
)") == std::vector<std::string>{
           at(5, 5, "weekly must be a list, got a mapping"),
           at(7, 7, "each entry of overrides must be a mapping, got \"2026-11-11\""),
           at(9, 25, "each entry of counted_bots must be a bot name, got a list"),
           at(9, 36, "bot name must not be empty"),
           at(11, 5, "each SLA must be a mapping, got \"just_a_name\""),
           at(14, 15, "deadline must be a duration like 3m, got a list"),
           at(15, 17, "min_rounds must be a whole number of at least 1, got \"1.5\""),
           at(16, 16, "objective must be a number between 0 and 1 (exclusive), got \"high\""),
           at(18, 5, "kind must be reply_time, average_response or agent_presence, got nothing"),
       });
  }
  SECTION("the document itself") {
    CHECK(errors_of("[tmall, Asia/Shanghai]\n") ==
          std::vector<std::string>{at(1, 1, "a rule file must be a mapping, got a list")});
    CHECK(errors_of("just text\n") ==
          std::vector<std::string>{at(1, 1, "a rule file must be a mapping, got \"just text\"")});
    CHECK(errors_of("? [platform]\n: tmall\n") ==
          std::vector<std::string>{
              at(1, 1, "missing key \"platform\""),
              at(1, 1, "missing key \"timezone\""),
              at(1, 1, "missing key \"slas\""),
              at(1, 3, "keys must be plain names, got a list"),
          });
  }
  SECTION("aliases that refer to themselves") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas: &loop [*loop]
)") == std::vector<std::string>{at(3, 7, "each SLA must be a mapping, got a list")});
  }
}

TEST_CASE("rule_loader: duplicate keys are errors at the second key") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
platform: taobao
slas:
  - {name: a, kind: reply_time, deadline: 3m, deadline: 5m}
)") == std::vector<std::string>{
           at(3, 1, "duplicate key \"platform\""),
           at(5, 47, "duplicate key \"deadline\""),
       });
}

TEST_CASE("rule_loader: YAML syntax errors carry the parser's position") {
  SECTION("bad indentation") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
 slas: []
)") == std::vector<std::string>{at(3, 6, "invalid yaml: illegal map value")});
  }
  SECTION("unclosed flow sequence") {
    CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas: [{name: a, kind: reply_time, deadline: 3m}
)") == std::vector<std::string>{at(4, 1, "invalid yaml: end of sequence flow not found")});
  }
}

TEST_CASE("rule_loader: empty files and multi-document files are errors") {
  CHECK(errors_of("") ==
        std::vector<std::string>{std::string(kFile) +
                                 ": empty rule file, expected a mapping with platform, timezone "
                                 "and slas"});
  CHECK(errors_of("# nothing but a comment\n") == errors_of(""));
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas: [{name: a, kind: reply_time, deadline: 3m}]
---
platform: taobao
)") == std::vector<std::string>{
           at(4, 1, "a rule file holds one yaml document, found a second one"),
       });
  CHECK(errors_of("---\n# a document start and nothing else\n") == errors_of(""));
}

// yaml-cpp 0.7's own LoadAll never returns on these; the loader must.
TEST_CASE("rule_loader: a stray comma at block level is a syntax error, not a hang") {
  CHECK(errors_of(",\n") == std::vector<std::string>{at(1, 1, "invalid yaml: unexpected \",\"")});
  CHECK(errors_of(R"(
platform: tmall
---
,
)") == std::vector<std::string>{
           at(2, 1, "a rule file holds one yaml document, found a second one")});
}

TEST_CASE("rule_loader: deeply nested input is a syntax error, not a stack overflow") {
  const RuleLoadResult result = load("platform: " + std::string(100'000, '['));
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].line == 1);
  CHECK(result.errors[0].message == "invalid yaml: nested too deeply");
}

TEST_CASE("rule_loader: messages quote user text safely") {
  const std::string long_name(100, 'x');
  CHECK(errors_of("platform: \"a\\tb\\\"c\"\ntimezone: UTC\nslas: [{name: a, kind: reply_time, "
                  "deadline: 3m}]\n") ==
        std::vector<std::string>{
            at(1, 11, R"(bad platform "a\x09b\"c", expected lowercase letters, digits, _ and -)")});
  CHECK(errors_of("platform: tmall\ntimezone: UTC\nslas: [{name: " + long_name +
                  "!, kind: reply_time, deadline: 3m}]\n") ==
        std::vector<std::string>{at(3, 15,
                                    "bad SLA name \"" + std::string(60, 'x') +
                                        "...\", expected lowercase letters, digits and _")});
}

TEST_CASE("rule_loader: RuleError::to_string") {
  CHECK(RuleError{"rules/a.yaml", 3, 7, "unknown key \"x\""}.to_string() ==
        "rules/a.yaml:3:7: unknown key \"x\"");
  CHECK(RuleError{"rules", 0, 0, "no rule files"}.to_string() == "rules: no rule files");
}

constexpr std::string_view kValidTmall = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - {name: a, kind: reply_time, deadline: 3m}
)";

TEST_CASE("rule_loader: a directory loads every *.yaml and *.yml, sorted by platform") {
  TempDir dir;
  dir.write("a.yaml", R"(
platform: zeta
timezone: Europe/Berlin
slas:
  - {name: a, kind: reply_time, deadline: 3m}
)");
  dir.write("b.yml", kValidTmall);
  dir.write("notes.txt", "not: [yaml");
  dir.write(".draft.yaml", "not: [yaml");
  dir.write("c.yaml.bak", "not: [yaml");
  fs::create_directory(dir.path() + "/sub.yaml");

  const RuleLoadResult result = load_rule_directory(dir.path());
  INFO(Catch::Detail::stringify(errors_of(result)));
  REQUIRE(result.ok());
  REQUIRE(result.rules.platforms.size() == 2);
  CHECK(result.rules.platforms[0].platform == "tmall");
  CHECK(result.rules.platforms[0].file == dir.file("b.yml"));
  CHECK(result.rules.platforms[1].platform == "zeta");

  const PlatformRules* zeta = result.rules.find("zeta");
  REQUIRE(zeta != nullptr);
  CHECK(zeta->timezone_name == "Europe/Berlin");
  CHECK(result.rules.find("tmall") == result.rules.platforms.data());
  CHECK(result.rules.find("taobao") == nullptr);
  CHECK(result.rules.find("") == nullptr);
  CHECK(result.rules.find("zz") == nullptr);
}

TEST_CASE("rule_loader: a directory reports the errors of every file, in name order") {
  TempDir dir;
  dir.write("b.yml", R"(
platform: taobao
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    colour: red
)");
  dir.write("a.yaml", R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3 min
)");
  dir.write("c.yaml", kValidTmall);  // a duplicate platform: only this file's own error is new
  const RuleLoadResult result = load_rule_directory(dir.path());
  CHECK(result.rules.platforms.empty());
  CHECK(errors_of(result) ==
        std::vector<std::string>{
            dir.file("a.yaml") +
                ":6:15: bad duration \"3 min\", expected an integer followed by ms, s, m, h or d",
            dir.file("b.yml") + ":7:5: unknown key \"colour\"",
            dir.file("c.yaml") + ":1:11: platform \"tmall\" is already defined in " +
                dir.file("a.yaml"),
        });
}

TEST_CASE("rule_loader: a platform defined twice is an error at the second file's platform") {
  TempDir dir;
  dir.write("1-tmall.yaml", kValidTmall);
  dir.write("2-tmall-again.yaml", R"(
timezone: UTC
colour: blue
platform: tmall
slas:
  - {name: a, kind: reply_time, deadline: 3m}
)");
  const RuleLoadResult result = load_rule_directory(dir.path());
  CHECK(result.rules.platforms.empty());
  CHECK(errors_of(result) ==
        std::vector<std::string>{
            dir.file("2-tmall-again.yaml") +
                ":2:1: unknown key \"colour\", expected platform, timezone, service_hours, "
                "sessions, replies, slas or shops",
            dir.file("2-tmall-again.yaml") + ":3:11: platform \"tmall\" is already defined in " +
                dir.file("1-tmall.yaml"),
        });
}

TEST_CASE("rule_loader: a directory without rule files is one error about the directory") {
  SECTION("empty") {
    TempDir dir;
    const RuleLoadResult result = load_rule_directory(dir.path());
    CHECK(errors_of(result) ==
          std::vector<std::string>{dir.path() +
                                   ": no rule files (*.yaml or *.yml) in the rules directory"});
  }
  SECTION("only other files") {
    TempDir dir;
    dir.write("README.md", "# rules\n");
    dir.write(".hidden.yaml", kValidTmall);
    const RuleLoadResult result = load_rule_directory(dir.path());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].file == dir.path());
    CHECK(result.errors[0].line == 0);
  }
  SECTION("missing") {
    TempDir dir;
    const std::string missing = dir.path() + "/does-not-exist";
    const RuleLoadResult result = load_rule_directory(missing);
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].file == missing);
    CHECK(result.errors[0].line == 0);
    CHECK(result.errors[0].message == "cannot read rules directory: no such file or directory");
  }
  SECTION("a file, not a directory") {
    TempDir dir;
    dir.write("tmall.yaml", kValidTmall);
    const RuleLoadResult result = load_rule_directory(dir.file("tmall.yaml"));
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].file == dir.file("tmall.yaml"));
    CHECK(result.errors[0].line == 0);
  }
}

TEST_CASE("rule_loader: notify names the severity of conversation-level alerts") {
  const RuleLoadResult result = load(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: paged
    kind: reply_time
    deadline: 3m
    notify: page
  - name: ticketed
    kind: reply_time
    deadline: 3m
    notify: ticket
  - name: quiet
    kind: reply_time
    deadline: 3m
    notify: none
  - name: unset
    kind: reply_time
    deadline: 3m
)");
  REQUIRE(result.ok());
  const auto& slas = result.rules.platforms.at(0).slas;
  CHECK(slas[0].notify == NotifySeverity::kPage);
  CHECK(slas[1].notify == NotifySeverity::kTicket);
  CHECK(slas[2].notify == NotifySeverity::kNone);
  CHECK(slas[3].notify == NotifySeverity::kNone);  // off unless asked for
}

TEST_CASE("rule_loader: a bad notify value, or notify on another kind, is an error") {
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply
    kind: reply_time
    deadline: 3m
    notify: sms
  - name: avg
    kind: average_response
    max_average: 40s
    unanswered_cost: 10m
    notify: page
  - name: listed
    kind: reply_time
    deadline: 3m
    notify: [page]
)") == std::vector<std::string>{
           at(7, 13, "bad notify \"sms\", expected page, ticket or none"),
           at(12, 5, "key \"notify\" does not apply to kind average_response"),
           at(16, 13, "notify must be page, ticket or none, got a list"),
       });
}

}  // namespace
TEST_CASE("rule_loader: more than 100000 buckets per window is an error at the resolution") {
  // Before, 50d / 1ms was truncated to 32 bits (a 7-hour window) and 4294967296ms / 1ms to an
  // empty one, and both passed.
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
    window: 50d
    resolution: 1ms
  - name: b
    kind: reply_time
    deadline: 3m
    window: 4294967296ms
    resolution: 1ms
  - name: c
    kind: reply_time
    deadline: 3m
    window: 100000m
    resolution: 1m
)") == std::vector<std::string>{
           at(8, 17, "window 50d / resolution 1ms is 4320000000 buckets, more than 100000"),
           at(13, 17,
              "window 4294967296ms / resolution 1ms is 4294967296 buckets, more than "
              "100000"),
       });
}

TEST_CASE("rule_loader: a time zone that depends on the host is an error") {
  for (const char* zone : {"localtime", "posixrules"}) {
    INFO(zone);
    const std::string yaml = std::string("platform: tmall\ntimezone: ") + zone +
                             "\nslas:\n  - name: a\n    kind: reply_time\n    deadline: 3m\n";
    CHECK(errors_of(load_rule_text(yaml, kFile)) ==
          std::vector<std::string>{at(2, 11,
                                      std::string("time zone \"") + zone +
                                          "\" depends on the host, expected an IANA "
                                          "name like Asia/Shanghai")});
  }
}

TEST_CASE("rule_loader: shops lists the only shops a platform may have") {
  const RuleLoadResult result = load(R"(
platform: tmall
timezone: Asia/Shanghai
shops: [flagship, "outlet 2"]
slas:
  - name: a
    kind: reply_time
    deadline: 3m
)");
  CHECK(only_platform(result).allowed_shops == std::vector<std::string>{"flagship", "outlet 2"});
  CHECK(only_platform(load(R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: a
    kind: reply_time
    deadline: 3m
)"))
            .allowed_shops.empty());
  CHECK(errors_of(R"(
platform: tmall
timezone: Asia/Shanghai
shops: ["", [x]]
slas:
  - name: a
    kind: reply_time
    deadline: 3m
)") == std::vector<std::string>{at(3, 9, "shop id must be 1 to 128 bytes"),
                                at(3, 13, "each entry of shops must be a shop id, got a list")});
}

TEST_CASE("rule_loader: a rule file over 1 MiB is an error where the limit is crossed") {
  TempDir dir;
  const std::string header = "platform: tmall\ntimezone: UTC\n";
  std::string big = header;
  const std::string comment = "# " + std::string(97, 'x') + "\n";  // 100 bytes a line
  while (big.size() <= kMaxRuleFileBytes) big += comment;
  dir.write("big.yaml", big);
  const RuleLoadResult result = load_rule_directory(dir.path());
  REQUIRE(result.errors.size() == 1);
  const RuleError& error = result.errors[0];
  CHECK(error.file == dir.file("big.yaml"));
  // Byte 1048576 (0-based) lies in the comment lines after the two header lines.
  CHECK(error.line == 3 + static_cast<int>((kMaxRuleFileBytes - header.size()) / 100));
  CHECK(error.column == 1 + static_cast<int>((kMaxRuleFileBytes - header.size()) % 100));
  CHECK_THAT(error.message, Catch::Contains("larger than 1048576 bytes"));
}

}  // namespace replywatch

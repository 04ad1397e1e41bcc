// GET /v1/at-risk: the query string, and the report on a real engine (open rounds at risk first,
// then the earliest due, `limit` per (platform, shop, SLA)).
#include "at_risk.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine_host.h"
#include "engine_test_support.h"

using namespace rwtest;
using replywatch::format_rfc3339;
using replywatch::server::at_risk_report;
using replywatch::server::AtRiskQuery;
using replywatch::server::EngineHost;
using replywatch::server::parse_at_risk_query;

namespace {

constexpr const char* kTmallYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
  - name: avg_40s
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
)";

constexpr const char* kReplyOnlyYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
)";

constexpr const char* kJdYaml = R"(
platform: jd
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
)";

AtRiskQuery parse_ok(std::string_view text) {
  AtRiskQuery query;
  const auto problem = parse_at_risk_query(text, query);
  INFO("query: " << std::string(text) << " problem: " << problem.value_or(""));
  REQUIRE_FALSE(problem.has_value());
  return query;
}

std::string parse_error(std::string_view text) {
  AtRiskQuery query;
  const auto problem = parse_at_risk_query(text, query);
  INFO("query: " << std::string(text));
  REQUIRE(problem.has_value());
  return *problem;
}

// One round of the report, as read back from its JSON.
struct Round {
  std::string conversation;
  std::string start;
  std::string due;
  double seconds_left = 0.0;
  bool at_risk = false;
};

struct Group {
  std::string platform, shop, sla, kind;
  std::int64_t open_rounds = -1;
  std::int64_t at_risk_rounds = -1;
  std::vector<Round> rounds;
};

std::vector<Group> groups_of(const boost::json::object& report) {
  std::vector<Group> out;
  for (const auto& item : report.at("slas").as_array()) {
    const auto& object = item.as_object();
    Group group;
    group.platform = std::string(object.at("platform").as_string());
    group.shop = std::string(object.at("shop").as_string());
    group.sla = std::string(object.at("sla").as_string());
    group.kind = std::string(object.at("kind").as_string());
    group.open_rounds = object.at("open_rounds").to_number<std::int64_t>();
    group.at_risk_rounds = object.at("at_risk_rounds").to_number<std::int64_t>();
    for (const auto& r : object.at("rounds").as_array()) {
      const auto& round = r.as_object();
      group.rounds.push_back(Round{
          std::string(round.at("conversation").as_string()),
          std::string(round.at("start").as_string()), std::string(round.at("due").as_string()),
          round.at("seconds_left").to_number<double>(), round.at("at_risk").as_bool()});
    }
    out.push_back(std::move(group));
  }
  return out;
}

std::vector<std::string> conversations_of(const Group& group) {
  std::vector<std::string> out;
  for (const Round& round : group.rounds) out.push_back(round.conversation);
  return out;
}

std::vector<std::string> names_of(const std::vector<Group>& groups) {
  std::vector<std::string> out;
  for (const Group& g : groups) out.push_back(g.platform + "/" + g.shop + "/" + g.sla);
  return out;
}

const Instant kT0 = Instant(Duration(1795359600000));  // 2026-11-22T15:00:00Z

}  // namespace

TEST_CASE("at_risk: an empty query keeps the defaults", "[at_risk]") {
  const AtRiskQuery query = parse_ok("");
  CHECK_FALSE(query.platform.has_value());
  CHECK_FALSE(query.shop.has_value());
  CHECK(query.limit == 20);
  CHECK_FALSE(query.at_risk_only);
  CHECK(parse_ok("&&").limit == 20);
}

TEST_CASE("at_risk: every parameter is read", "[at_risk]") {
  const AtRiskQuery query = parse_ok("platform=tmall&shop=s1&limit=7&at_risk_only=true");
  CHECK(query.platform == std::optional<std::string>("tmall"));
  CHECK(query.shop == std::optional<std::string>("s1"));
  CHECK(query.limit == 7);
  CHECK(query.at_risk_only);
  CHECK(parse_ok("at_risk_only=1").at_risk_only);
  CHECK_FALSE(parse_ok("at_risk_only=false").at_risk_only);
  CHECK_FALSE(parse_ok("at_risk_only=0").at_risk_only);
  CHECK(parse_ok("limit=1").limit == 1);
  CHECK(parse_ok("limit=1000").limit == 1000);
  // The last of a repeated parameter wins.
  CHECK(parse_ok("limit=3&limit=4").limit == 4);
}

TEST_CASE("at_risk: values are percent-decoded and + is a space", "[at_risk]") {
  CHECK(parse_ok("shop=my%20shop").shop == std::optional<std::string>("my shop"));
  CHECK(parse_ok("shop=my+shop").shop == std::optional<std::string>("my shop"));
  CHECK(parse_ok("shop=a%2Bb%26c%3Dd").shop == std::optional<std::string>("a+b&c=d"));
  CHECK(parse_ok("shop=%e5%ba%97").shop == std::optional<std::string>("\xE5\xBA\x97"));
  CHECK(parse_ok("shop=%E5%BA%97").shop == std::optional<std::string>("\xE5\xBA\x97"));
}

TEST_CASE("at_risk: bad percent-encoding is an error naming the parameter", "[at_risk]") {
  CHECK_THAT(parse_error("shop=%zz"), Catch::Contains("shop"));
  CHECK_THAT(parse_error("shop=%zz"), Catch::Contains("percent"));
  CHECK_THAT(parse_error("platform=a%2"), Catch::Contains("platform"));
  parse_error("platform=a%");
  parse_error("shop=%g1");
  parse_error("shop=%-1");
  parse_error("shop=%+1");
}

TEST_CASE("at_risk: an unknown parameter or a bad limit is an error", "[at_risk]") {
  CHECK_THAT(parse_error("color=red"), Catch::Contains("color"));
  CHECK_THAT(parse_error("Platform=tmall"), Catch::Contains("Platform"));
  for (const char* text : {"limit=0", "limit=1001", "limit=abc", "limit=", "limit=-1", "limit=5x",
                           "limit= 5", "limit=99999999999999999999999"}) {
    INFO(text);
    CHECK_THAT(parse_error(text), Catch::Contains("limit"));
  }
  CHECK_THAT(parse_error("at_risk_only=yes"), Catch::Contains("at_risk_only"));
  parse_error("at_risk_only");
}

TEST_CASE("at_risk: rounds past the warning point come first, marked at risk", "[at_risk]") {
  EngineHost host(rules_from_yaml(kTmallYaml), {});
  host.offer(buyer("b1", "s1", "c1", kT0));
  host.offer(buyer("b2", "s1", "c2", kT0 + sec(30)));
  host.offer(buyer("b3", "s1", "c3", kT0 + sec(90)));
  host.offer(buyer("b4", "s1", "c4", kT0 + sec(100)));
  host.offer(buyer("b5", "s1", "answered", kT0 + sec(10)));
  host.offer(agent_msg("a5", "s1", "answered", kT0 + sec(20)));
  const Instant watermark = kT0 + mins(2) + sec(40);
  host.engine().advance(watermark);
  const Instant now = watermark + sec(2);

  const boost::json::object report = at_risk_report(host, now, AtRiskQuery{});
  CHECK(report.at("now").as_string() == "2026-11-22T15:02:42.000Z");
  CHECK(report.at("watermark").as_string() == "2026-11-22T15:02:40.000Z");
  const std::vector<Group> groups = groups_of(report);
  REQUIRE(names_of(groups) ==
          std::vector<std::string>{"tmall/s1/avg_40s", "tmall/s1/reply_3m"});  // by SLA name

  const Group& reply = groups[1];
  CHECK(reply.kind == "reply_time");
  CHECK(reply.open_rounds == 4);
  CHECK(reply.at_risk_rounds == 2);
  REQUIRE(reply.rounds.size() == 4);
  CHECK(conversations_of(reply) == std::vector<std::string>{"c1", "c2", "c3", "c4"});
  CHECK(reply.rounds[0].at_risk);
  CHECK(reply.rounds[1].at_risk);
  CHECK_FALSE(reply.rounds[2].at_risk);
  CHECK_FALSE(reply.rounds[3].at_risk);
  CHECK(reply.rounds[0].start == "2026-11-22T15:00:00.000Z");
  CHECK(reply.rounds[0].due == "2026-11-22T15:03:00.000Z");
  CHECK(reply.rounds[1].due == "2026-11-22T15:03:30.000Z");
  CHECK(reply.rounds[2].start == "2026-11-22T15:01:30.000Z");
  CHECK(reply.rounds[2].due == "2026-11-22T15:04:30.000Z");
  // seconds_left = due - now, now being the wall clock and not the watermark.
  CHECK(reply.rounds[0].seconds_left == 18.0);
  CHECK(reply.rounds[1].seconds_left == 48.0);
  CHECK(reply.rounds[2].seconds_left == 108.0);
  CHECK(reply.rounds[3].seconds_left == 118.0);

  const Group& average = groups[0];
  CHECK(average.kind == "average_response");
  CHECK(average.open_rounds == 4);
  CHECK(average.at_risk_rounds == 0);  // no warnings for average_response
  CHECK(conversations_of(average) == std::vector<std::string>{"c1", "c2", "c3", "c4"});
  REQUIRE(average.rounds.size() == 4);
  CHECK(average.rounds[0].due == "2026-11-22T15:10:00.000Z");  // where the cost cap is reached
  CHECK(average.rounds[0].seconds_left == 438.0);
  for (const Round& round : average.rounds) CHECK_FALSE(round.at_risk);
}

TEST_CASE("at_risk: a round already due by the wall clock has negative seconds left", "[at_risk]") {
  EngineHost host(rules_from_yaml(kReplyOnlyYaml), {});
  host.offer(buyer("b1", "s1", "c1", kT0));
  host.engine().advance(kT0 + mins(2) + sec(59));  // the deadline has not fired yet
  const auto groups =
      groups_of(at_risk_report(host, kT0 + mins(3) + sec(1) + ms(500), AtRiskQuery{}));
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].rounds.size() == 1);
  CHECK(groups[0].rounds[0].at_risk);
  CHECK(groups[0].rounds[0].seconds_left == -1.5);

  // Once the deadline fires the round is decided (a breach) and leaves the list.
  host.engine().advance(kT0 + mins(3) + ms(1));
  const auto after = groups_of(at_risk_report(host, kT0 + mins(3) + sec(2), AtRiskQuery{}));
  CHECK(after.empty());
  CHECK(host.engine().figures(kT0 + mins(3) + sec(2)).at(0).breaches == 1);
}

TEST_CASE("at_risk: limit keeps the most urgent rounds and the totals count all", "[at_risk]") {
  EngineHost host(rules_from_yaml(kReplyOnlyYaml), {});
  // 30 conversations, created in name order by an answered round each...
  constexpr int kCount = 30;
  auto name = [](int k) { return std::string(k < 10 ? "c0" : "c") + std::to_string(k); };
  for (int k = 0; k < kCount; ++k) {
    host.offer(buyer("first" + std::to_string(k), "s1", name(k), kT0 + sec(k)));
    host.offer(agent_msg("reply" + std::to_string(k), "s1", name(k), kT0 + sec(k) + ms(500)));
  }
  // ...then a new round each, started in another order: c_k starts (7k mod 30) s after T1.
  const Instant t1 = kT0 + mins(10);
  std::vector<std::pair<Instant, std::string>> by_start;
  for (int k = 0; k < kCount; ++k) {
    const Instant start = t1 + sec((7 * k) % kCount);
    host.offer(buyer("second" + std::to_string(k), "s1", name(k), start));
    by_start.emplace_back(start, name(k));
  }
  std::sort(by_start.begin(), by_start.end());
  // The warning points of the first three (2m after start) are passed.
  const Instant watermark = t1 + mins(2) + sec(2) + ms(500);
  host.engine().advance(watermark);

  for (const std::size_t limit : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{29},
                                  std::size_t{30}, std::size_t{1000}}) {
    INFO("limit " << limit);
    AtRiskQuery query;
    query.limit = limit;
    const auto groups = groups_of(at_risk_report(host, watermark, query));
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].open_rounds == kCount);
    CHECK(groups[0].at_risk_rounds == 3);
    const std::size_t kept = std::min<std::size_t>(limit, kCount);
    REQUIRE(groups[0].rounds.size() == kept);
    std::vector<std::string> expected;
    for (std::size_t i = 0; i < kept; ++i) expected.push_back(by_start[i].second);
    CHECK(conversations_of(groups[0]) == expected);
    for (std::size_t i = 0; i < kept; ++i) {
      CHECK(groups[0].rounds[i].at_risk == (i < 3));
      CHECK(groups[0].rounds[i].start == format_rfc3339(by_start[i].first));
      CHECK(groups[0].rounds[i].due == format_rfc3339(by_start[i].first + mins(3)));
    }
  }

  AtRiskQuery only;
  only.at_risk_only = true;
  const auto at_risk = groups_of(at_risk_report(host, watermark, only));
  REQUIRE(at_risk.size() == 1);
  CHECK(conversations_of(at_risk[0]) ==
        std::vector<std::string>{by_start[0].second, by_start[1].second, by_start[2].second});
  for (const Round& round : at_risk[0].rounds) CHECK(round.at_risk);
}

TEST_CASE("at_risk: platform and shop filters", "[at_risk]") {
  EngineHost host(rules_from_yamls({kReplyOnlyYaml, kJdYaml}), {});
  host.offer(buyer("t1", "s1", "tmall-s1-c", kT0));
  host.offer(buyer("t2", "s2", "tmall-s2-c", kT0 + sec(1)));
  host.offer(buyer("j1", "s1", "jd-s1-c", kT0 + sec(2), "jd"));
  host.offer(buyer("j2", "s3", "jd-s3-c", kT0 + sec(3), "jd"));
  host.engine().advance(kT0 + mins(1));

  auto run = [&](std::string_view text) {
    return groups_of(at_risk_report(host, kT0 + mins(1), parse_ok(text)));
  };
  CHECK(names_of(run("")) == std::vector<std::string>{"jd/s1/reply_3m", "jd/s3/reply_3m",
                                                      "tmall/s1/reply_3m", "tmall/s2/reply_3m"});
  CHECK(names_of(run("platform=tmall")) ==
        std::vector<std::string>{"tmall/s1/reply_3m", "tmall/s2/reply_3m"});
  CHECK(names_of(run("shop=s1")) ==
        std::vector<std::string>{"jd/s1/reply_3m", "tmall/s1/reply_3m"});
  const auto both = run("platform=jd&shop=s1");
  REQUIRE(names_of(both) == std::vector<std::string>{"jd/s1/reply_3m"});
  CHECK(conversations_of(both[0]) == std::vector<std::string>{"jd-s1-c"});
  CHECK(both[0].open_rounds == 1);
  CHECK(run("platform=amazon").empty());
  CHECK(run("shop=nobody").empty());
  CHECK(run("platform=tmall&shop=s3").empty());
  // Nothing is at risk yet: at_risk_only leaves nothing.
  CHECK(run("at_risk_only=true").empty());
}

TEST_CASE("at_risk: answered rounds and rounds still in the reorder buffer are not listed",
          "[at_risk]") {
  EngineHost host(rules_from_yaml(kReplyOnlyYaml), {});
  host.offer(buyer("b1", "s1", "c1", kT0));
  host.offer(agent_msg("a1", "s1", "c1", kT0 + sec(5)));
  host.offer(buyer("b2", "s1", "c2", kT0 + sec(10)));
  host.offer(buyer("b3", "s1", "c3", kT0 + mins(5)));  // not applied before the watermark
  host.engine().advance(kT0 + mins(1));
  const auto groups = groups_of(at_risk_report(host, kT0 + mins(1), AtRiskQuery{}));
  REQUIRE(groups.size() == 1);
  CHECK(conversations_of(groups[0]) == std::vector<std::string>{"c2"});
  CHECK(groups[0].open_rounds == 1);
}

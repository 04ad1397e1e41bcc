// The console's JSON on a real engine, time passed in: the queue (waiting, at risk, overdue,
// soonest due first, filters, the row limit) and the shops (Engine::figures at the watermark).
#include "console_snapshot.h"

#include <boost/json/array.hpp>
#include <catch2/catch.hpp>

#include "engine_host.h"
#include "engine_test_support.h"

using namespace rwtest;
using replywatch::server::console_choices;
using replywatch::server::console_queues;
using replywatch::server::console_shops;
using replywatch::server::ConsoleFilter;
using replywatch::server::EngineHost;
using replywatch::server::parse_console_filter;

namespace {

constexpr const char* kYaml = R"(
platform: tmall
timezone: UTC
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    objective: 0.5
  - name: avg_40s
    kind: average_response
    max_average: 40s
    unanswered_cost: 600s
)";

const Instant kT0 = Instant(Duration(1795359600000));  // 2026-11-22T15:00:00Z

std::int64_t millis(Instant at) { return at.time_since_epoch().count(); }

std::vector<std::string> rows_of(const boost::json::object& queue) {
  std::vector<std::string> out;
  for (const auto& item : queue.at("rounds").as_array()) {
    const auto& round = item.as_object();
    std::string state = round.at("overdue").as_bool()   ? "overdue"
                        : round.at("at_risk").as_bool() ? "at_risk"
                                                        : "waiting";
    out.push_back(std::string(round.at("conversation").as_string()) + "/" +
                  std::string(round.at("sla").as_string()) + "/" + state);
  }
  return out;
}

}  // namespace

TEST_CASE("console: the queue is every waiting round, soonest due first, with its state",
          "[console]") {
  EngineHost host(rules_from_yaml(kYaml), {});
  host.offer(buyer("b1", "s1", "late", kT0));
  host.offer(buyer("b2", "s1", "risky", kT0 + mins(1)));
  host.offer(buyer("b3", "s2", "fresh", kT0 + mins(3)));
  host.offer(buyer("b4", "s1", "answered", kT0 + mins(2)));
  host.offer(agent_msg("a4", "s1", "answered", kT0 + mins(2) + sec(10)));
  const Instant now = kT0 + mins(3) + sec(30);
  host.engine().advance(now);
  const std::array<ConsoleFilter, 1> all{};
  const auto queue = console_queues(host, now, all)[0];
  CHECK(rows_of(queue) ==
        std::vector<std::string>{"late/reply_3m/overdue", "risky/reply_3m/at_risk",
                                 "fresh/reply_3m/waiting", "late/avg_40s/waiting",
                                 "risky/avg_40s/waiting", "fresh/avg_40s/waiting"});
  CHECK(queue.at("total").as_uint64() == 6);
  CHECK(queue.at("overdue").as_uint64() == 1);
  CHECK(queue.at("at_risk").as_uint64() == 1);
  CHECK(queue.at("now").as_int64() == millis(now));
  const auto& first = queue.at("rounds").as_array()[0].as_object();
  CHECK(first.at("due").as_int64() == millis(kT0 + mins(3)));
  CHECK(first.at("warn_at").as_int64() == millis(kT0 + mins(2)));
  CHECK(queue.at("rounds").as_array()[3].at("warn_at").is_null());  // average_response

  // Answered: gone from the queue, overdue or not.
  host.offer(agent_msg("a1", "s1", "late", now));
  host.engine().advance(now + sec(1));
  CHECK(rows_of(console_queues(host, now, all)[0]) ==
        std::vector<std::string>{"risky/reply_3m/at_risk", "fresh/reply_3m/waiting",
                                 "risky/avg_40s/waiting", "fresh/avg_40s/waiting"});
}

TEST_CASE("console: filters, several in one pass, and the row limit", "[console]") {
  EngineHost host(rules_from_yaml(kYaml), {});
  for (int i = 0; i < 5; ++i) {
    host.offer(buyer("b" + std::to_string(i), i % 2 == 0 ? "even" : "odd", "c" + std::to_string(i),
                     kT0 + sec(i)));
  }
  host.engine().advance(kT0 + sec(10));
  std::vector<ConsoleFilter> filters(3);
  filters[1].shop = "odd";
  filters[2].sla = "avg_40s";
  filters[2].shop = "even";
  const auto queues = console_queues(host, kT0 + sec(10), filters, 3);
  CHECK(queues[0].at("total").as_uint64() == 10);
  CHECK(rows_of(queues[0]) == std::vector<std::string>{"c0/reply_3m/waiting", "c1/reply_3m/waiting",
                                                       "c2/reply_3m/waiting"});
  CHECK(rows_of(queues[1]) == std::vector<std::string>{"c1/reply_3m/waiting", "c3/reply_3m/waiting",
                                                       "c1/avg_40s/waiting"});
  CHECK(queues[1].at("total").as_uint64() == 4);
  CHECK(rows_of(queues[2]) ==
        std::vector<std::string>{"c0/avg_40s/waiting", "c2/avg_40s/waiting", "c4/avg_40s/waiting"});
}

TEST_CASE("console: shops are Engine::figures at the watermark, with the rules beside them",
          "[console]") {
  EngineHost host(rules_from_yaml(kYaml), {});
  host.offer(buyer("b1", "s1", "met", kT0));
  host.offer(agent_msg("a1", "s1", "met", kT0 + sec(20)));
  host.offer(buyer("b2", "s1", "missed", kT0 + sec(1)));
  host.engine().advance(kT0 + mins(5));
  const std::array<ConsoleFilter, 1> all{};
  const auto shops = console_shops(host, all)[0];
  const auto figures = host.engine().figures(host.engine().watermark());
  const auto& slas = shops.at("slas").as_array();
  REQUIRE(slas.size() == figures.size());
  for (std::size_t i = 0; i < figures.size(); ++i) {
    const auto& entry = slas[i].as_object();
    CHECK(entry.at("sla").as_string() == figures[i].sla);
    CHECK(entry.at("compliance_ratio").to_number<double>() == figures[i].compliance_ratio);
    CHECK(entry.at("window_rounds").to_number<std::uint64_t>() == figures[i].window_rounds);
    CHECK(entry.at("average_response_seconds").to_number<double>() ==
          figures[i].average_response_seconds);
    CHECK(entry.at("violating").as_bool() == figures[i].violating);
  }
  CHECK(slas[1].at("compliance_ratio").to_number<double>() == 0.5);  // reply_3m: 1 of 2 met
  CHECK(slas[1].at("objective").to_number<double>() == 0.5);
  CHECK(slas[0].at("max_average_seconds").to_number<double>() == 40.0);
  CHECK(shops.at("at").as_int64() == millis(host.engine().watermark()));
  const auto choices = console_choices(host);
  CHECK(choices.at("platforms").as_array()[0].at("shops").as_array().size() == 1);
}

TEST_CASE("console: the filter's query string", "[console]") {
  ConsoleFilter filter;
  CHECK_FALSE(parse_console_filter("platform=tmall&shop=my+shop&sla=reply_3m", filter));
  CHECK(filter.platform == std::optional<std::string>("tmall"));
  CHECK(filter.shop == std::optional<std::string>("my shop"));
  CHECK(filter.sla == std::optional<std::string>("reply_3m"));
  ConsoleFilter empty;
  CHECK_FALSE(parse_console_filter("platform=&shop=&sla=", empty));
  CHECK(empty == ConsoleFilter{});
  ConsoleFilter bad;
  CHECK_THAT(*parse_console_filter("colour=red", bad), Catch::Contains("platform, shop, sla"));
  CHECK(parse_console_filter("limit=3", bad).has_value());
  CHECK(parse_console_filter("sla=%zz", bad).has_value());
}

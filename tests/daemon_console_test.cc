// The console's endpoints on the real daemon: the queue and shops JSON against /metrics, the
// live stream, its cap (the admin listener stays open to scrapes), and a prompt stop with pages
// open.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "daemon_process.h"

namespace {

using rwtest::Clock;
using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::scrape;
using rwtest::TempDir;

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_1m
    kind: reply_time
    deadline: 1m
    warn_before: 30s
    objective: 0.5
    window: 1h
    resolution: 1m
  - name: average_1m
    kind: average_response
    max_average: 1m
    unanswered_cost: 2m
    window: 1h
    resolution: 1m
  - name: online
    kind: agent_presence
)";

std::string event(const std::string& id, const std::string& type, const std::string& shop,
                  const std::string& conversation, std::int64_t ts, const std::string& extra = {}) {
  std::string json = R"({"id":")" + id + R"(","platform":"testchat","shop":")" + shop +
                     R"(","type":")" + type + R"(")";
  if (!conversation.empty()) json += R"(,"conversation":")" + conversation + R"(")";
  json += R"(,"ts":)" + std::to_string(ts);
  if (!extra.empty()) json += "," + extra;
  return json + "}";
}

// An open GET /v1/console/events; the status line once it came.
struct Stream {
  explicit Stream(unsigned short port) : socket(io) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    const std::string request =
        "GET /v1/console/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(request));
    boost::asio::read_until(socket, buffer, "\r\n");
    std::istream in(&buffer);
    std::getline(in, status);
  }
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket;
  boost::asio::streambuf buffer;
  std::string status;
};

}  // namespace

TEST_CASE("The console's JSON lists waiting rounds and the figures /metrics has",
          "[daemon][console]") {
  TempDir dir("console");
  dir.write("rules/testchat.yaml", kRules);
  DaemonProcess daemon(
      {"--rules", dir.file("rules"), "--data", dir.file("data"), "--allowed-lateness", "100ms"});
  const std::int64_t t0 = now_ms() - 20'000;
  const std::string body =
      event("s1", "agent_status", "shop-a", "", t0, R"("agent":"a1","status":"online")") + "\n" +
      event("b1", "buyer_message", "shop-a", "answered", t0) + "\n" +
      event("r1", "agent_message", "shop-a", "answered", t0 + 5'000, R"("agent":"a1")") + "\n" +
      event("b2", "buyer_message", "shop-a", "waiting", t0 + 1'000) + "\n" +
      event("b3", "buyer_message", "shop-b", "other", t0 + 2'000) + "\n";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body,
                    {{"Content-Type", "application/x-ndjson"}})
              .status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the allowed lateness

  const auto reply = http_call(daemon.admin_port(), "GET", "/v1/console?shop=shop-a");
  REQUIRE(reply.status == 200);
  const auto console = boost::json::parse(reply.body).as_object();
  const auto& rounds = console.at("queue").at("rounds").as_array();
  REQUIRE(rounds.size() == 2);  // "waiting" under both reply SLAs; shop-b filtered out
  CHECK(rounds[0].at("conversation") == "waiting");
  CHECK(rounds[0].at("sla") == "reply_1m");  // due at 1 min, before the 2 min cost cap
  CHECK(rounds[0].at("due").as_int64() == t0 + 1'000 + 60'000);
  CHECK(rounds[0].at("warn_at").as_int64() == t0 + 1'000 + 30'000);
  CHECK(rounds[1].at("sla") == "average_1m");

  const auto metrics = scrape(daemon.admin_port());
  for (const auto& entry : console.at("shops").at("slas").as_array()) {
    const auto& sla = entry.as_object();
    const std::string labels = R"({platform="testchat",shop=")" +
                               std::string(sla.at("shop").as_string()) + R"(",sla=")" +
                               std::string(sla.at("sla").as_string()) + R"("})";
    INFO(labels);
    CHECK(sla.at("compliance_ratio").to_number<double>() ==
          Approx(metrics.at("replywatch_sla_compliance_ratio" + labels)));
    CHECK(sla.at("window_rounds").to_number<double>() ==
          metrics.at("replywatch_sla_window_rounds" + labels));
    CHECK(sla.at("average_response_seconds").to_number<double>() ==
          Approx(metrics.at("replywatch_average_response_seconds" + labels)));
    CHECK(sla.at("open_rounds").to_number<double>() ==
          metrics.at("replywatch_rounds_open" + labels));
    CHECK((sla.at("violating").as_bool() ? 1.0 : 0.0) ==
          metrics.at("replywatch_sla_violating" + labels));
    if (!sla.at("error_budget_remaining_rounds").is_null()) {
      CHECK(sla.at("error_budget_remaining_rounds").to_number<double>() ==
            metrics.at("replywatch_sla_error_budget_remaining_rounds" + labels));
    }
    CHECK(sla.at("agents_online").to_number<double>() ==
          metrics.at(R"(replywatch_agents_online{platform="testchat",shop="shop-a"})"));
  }
  CHECK(http_call(daemon.admin_port(), "GET", "/v1/console?limit=3").status == 400);
  const auto page = http_call(daemon.admin_port(), "GET", "/", {}, {{"Accept", "text/html"}});
  CHECK(page.headers.at("content-type") == "text/html; charset=utf-8");
  CHECK_THAT(page.headers.at("content-security-policy"), Catch::Contains("script-src 'self'"));
  CHECK_THAT(page.body, !Catch::Contains("<script>"));  // no inline script
  CHECK(http_call(daemon.admin_port(), "GET", "/console/app.js").status == 200);
  CHECK_THAT(http_call(daemon.admin_port(), "GET", "/").body, Catch::Contains("GET  /metrics"));
}

TEST_CASE("Console streams are capped; scrapes still get in; a stop does not wait for pages",
          "[daemon][console]") {
  TempDir dir("console-cap");
  dir.write("rules/testchat.yaml", kRules);
  DaemonProcess daemon({"--rules", dir.file("rules"), "--data", dir.file("data")});
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 16; ++i) {
    streams.push_back(std::make_unique<Stream>(daemon.admin_port()));
    CHECK_THAT(streams.back()->status, Catch::StartsWith("HTTP/1.1 200"));
  }
  Stream refused(daemon.admin_port());
  CHECK_THAT(refused.status, Catch::StartsWith("HTTP/1.1 503"));
  CHECK(http_call(daemon.admin_port(), "GET", "/metrics").status == 200);
  CHECK(http_call(daemon.admin_port(), "GET", "/v1/console").status == 200);
  streams.pop_back();  // a page closed: its place is free once the daemon notices
  bool reopened = false;
  for (int attempt = 0; attempt < 50 && !reopened; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reopened = Stream(daemon.admin_port()).status.starts_with("HTTP/1.1 200");
  }
  CHECK(reopened);
  const auto asked = Clock::now();
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  CHECK(Clock::now() - asked < std::chrono::seconds(2));
}

// Integration tests: the real `replywatch run` on port 0, spoken to over HTTP. These are the
// only tests that use real time; each keeps its waits short and its bounds generous.
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <sstream>
#include <thread>

#include "daemon_process.h"
#include "signature.h"

namespace {

using rwtest::Clock;
using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::HttpClient;
using rwtest::now_ms;
using rwtest::parse_metrics;
using rwtest::scrape;
using rwtest::TempDir;

// Second-scale SLAs, always in hours, so that real-time behaviour shows within seconds.
constexpr const char* kTestRules = R"(platform: testchat
timezone: UTC
replies:
  counted_bots: [paidbot]
slas:
  - name: reply_2s
    kind: reply_time
    rounds: every
    deadline: 2s
    warn_before: 1s
    objective: 0.9
    window: 1h
    resolution: 1m
  - name: average_3s
    kind: average_response
    rounds: every
    replies: human
    max_average: 3s
    unanswered_cost: 4s
    window: 1h
    resolution: 1m
  - name: online
    kind: agent_presence
    min_online: 1
    grace: 1s
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

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};
const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};

std::string series(const std::string& name, const std::string& shop, const std::string& sla) {
  return name + R"({platform="testchat",shop=")" + shop + R"(",sla=")" + sla + R"("})";
}

double value_or(const std::map<std::string, double>& samples, const std::string& key,
                double fallback = -1) {
  const auto found = samples.find(key);
  return found == samples.end() ? fallback : found->second;
}

boost::json::value json_of(const std::string& text) { return boost::json::parse(text); }

std::vector<std::string> base_args(const TempDir& dir) {
  return {"--rules",
          (dir.path() / "rules").string(),
          "--data",
          (dir.path() / "data").string(),
          "--allowed-lateness",
          "100ms"};
}

// Runs a shell command; its exit status and output.
std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char chunk[4096];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

}  // namespace

TEST_CASE("Ingest answers each status code of the contract and bad requests change nothing",
          "[daemon]") {
  TempDir dir("status");
  dir.write("rules/testchat.yaml", kTestRules);
  auto args = base_args(dir);
  args.insert(args.end(), {"--max-body-bytes", "4096"});
  DaemonProcess daemon(args);
  const auto port = daemon.ingest_port();
  const std::int64_t ts = now_ms();

  SECTION("200 for one valid object") {
    const auto reply =
        http_call(port, "POST", "/v1/events", event("a", "buyer_message", "s1", "c1", ts), kJson);
    CHECK(reply.status == 200);
    CHECK(reply.headers.at("content-type") == "application/json");
    CHECK(json_of(reply.body) == json_of(R"({"accepted":1,"duplicates":0,"rejected":[]})"));
  }
  SECTION("422 names each invalid event and still takes the valid ones") {
    const std::string body = "[" + event("a", "buyer_message", "s1", "c1", ts) + R"(,{"id":"b"},)" +
                             event("c", "teleport", "s1", "c1", ts) + "]";
    const auto reply = http_call(port, "POST", "/v1/events", body, kJson);
    CHECK(reply.status == 422);
    const auto answer = json_of(reply.body).as_object();
    CHECK(answer.at("accepted").as_int64() == 1);
    const auto& rejected = answer.at("rejected").as_array();
    REQUIRE(rejected.size() == 2);
    CHECK(rejected[0].at("index").as_int64() == 1);
    CHECK(rejected[0].at("reason").as_string() == "missing_field");
    CHECK(rejected[1].at("index").as_int64() == 2);
    CHECK(rejected[1].at("reason").as_string() == "bad_field");
    const auto samples = scrape(daemon);
    CHECK(value_or(samples, R"(replywatch_events_rejected_total{reason="missing_field"})") == 1);
    CHECK(value_or(samples, R"(replywatch_events_rejected_total{reason="bad_field"})") == 1);
  }
  SECTION("a too-far-future event is rejected") {
    const auto reply = http_call(port, "POST", "/v1/events",
                                 event("f", "buyer_message", "s1", "c1", ts + 600'000), kJson);
    CHECK(reply.status == 422);
    CHECK(json_of(reply.body).at("rejected").at(0).at("reason").as_string() == "too_far_in_future");
  }
  SECTION("400, 404, 405, 413 and 415 take nothing") {
    CHECK(http_call(port, "POST", "/v1/events", "{not json", kJson).status == 400);
    CHECK(http_call(port, "POST", "/v1/events", "", kJson).status == 400);
    CHECK(http_call(port, "POST", "/v1/events", "42", kJson).status == 400);
    CHECK(http_call(port, "POST", "/v1/events", event("a", "buyer_message", "s1", "c1", ts),
                    {{"Content-Type", "text/plain"}})
              .status == 415);
    CHECK(http_call(port, "POST", "/v1/events", event("a", "buyer_message", "s1", "c1", ts), {})
              .status == 415);
    CHECK(http_call(port, "POST", "/v2/events", "{}", kJson).status == 404);
    const auto get = http_call(port, "GET", "/v1/events");
    CHECK(get.status == 405);
    CHECK(get.headers.at("allow") == "POST");
    // A body too large is refused from its header, before a byte of it is sent.
    HttpClient raw(port);
    const std::string head =
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000000\r\n\r\n";
    REQUIRE(raw.send_raw(head));
    CHECK(raw.receive_some().value_or("").starts_with("HTTP/1.1 413"));
    // So is one that says it is small and then is not (chunked, over the limit).
    const std::string big(5000, ' ');
    CHECK(http_call(port, "POST", "/v1/events", "[" + big + "]", kJson).status == 413);

    const auto samples = scrape(daemon);
    double received = 0;
    for (const auto& [name, value] : samples) {
      if (name.starts_with("replywatch_events_received_total")) received += value;
    }
    CHECK(received == 0);
    CHECK(
        value_or(
            samples,
            R"(replywatch_http_requests_refused_total{listener="ingest",reason="unreadable_body"})") ==
        3);
    CHECK(
        value_or(
            samples,
            R"(replywatch_http_requests_refused_total{listener="ingest",reason="body_too_large"})") ==
        2);
  }
  SECTION("the admin listener has its own 404 and 405") {
    CHECK(http_call(daemon.admin_port(), "GET", "/nope").status == 404);
    CHECK(http_call(daemon.admin_port(), "POST", "/metrics").status == 405);
    CHECK(http_call(daemon.admin_port(), "GET", "/-/reload").status == 405);
    CHECK(http_call(daemon.admin_port(), "GET", "/-/healthy").status == 200);
    CHECK(http_call(daemon.admin_port(), "GET", "/-/ready").status == 200);
  }
}

TEST_CASE("Signed ingest takes only fresh requests signed with the secret", "[daemon]") {
  TempDir dir("signed");
  dir.write("rules/testchat.yaml", kTestRules);
  dir.write("secret", "s3cret\n");
  auto args = base_args(dir);
  args.insert(args.end(), {"--ingest-secret-file", (dir.path() / "secret").string()});
  DaemonProcess daemon(args);
  const std::string body = event("a", "buyer_message", "s1", "c1", now_ms());
  auto signed_headers = [&](const std::string& secret, std::int64_t seconds) {
    const std::string timestamp = std::to_string(seconds);
    return std::map<std::string, std::string>{
        {"Content-Type", "application/json"},
        {"X-Replywatch-Timestamp", timestamp},
        {"X-Replywatch-Signature",
         "sha256=" + replywatch::adapters::sign_request(secret, timestamp, body)}};
  };
  const std::int64_t now_s = now_ms() / 1000;
  const auto port = daemon.ingest_port();
  CHECK(http_call(port, "POST", "/v1/events", body, signed_headers("wrong", now_s)).status == 401);
  CHECK(http_call(port, "POST", "/v1/events", body, signed_headers("s3cret", now_s - 301)).status ==
        401);
  CHECK(http_call(port, "POST", "/v1/events", body, kJson).status == 401);
  auto tampered = signed_headers("s3cret", now_s);
  CHECK(http_call(port, "POST", "/v1/events", body + " ", tampered).status == 401);
  CHECK(value_or(scrape(daemon),
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        0);

  const auto good = http_call(port, "POST", "/v1/events", body, signed_headers("s3cret", now_s));
  CHECK(good.status == 200);
  const auto samples = scrape(daemon);
  CHECK(
      value_or(
          samples,
          R"(replywatch_http_requests_refused_total{listener="ingest",reason="bad_signature"})") ==
      4);
  CHECK(value_or(samples,
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        1);
}

TEST_CASE("Without a secret the ingest listener refuses to bind beyond loopback", "[daemon]") {
  TempDir dir("loopback");
  dir.write("rules/testchat.yaml", kTestRules);
  auto args = base_args(dir);
  args.insert(args.end(), {"--ingest-listen", "0.0.0.0:0"});
  DaemonProcess daemon(args, false);
  CHECK(daemon.wait_exit(std::chrono::seconds(10)) == 1);
  CHECK(daemon.log().find("not a loopback address") != std::string::npos);
}

TEST_CASE("Retried webhooks are duplicates, NDJSON and arrays both work, late events count",
          "[daemon]") {
  TempDir dir("dedup");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));
  const auto port = daemon.ingest_port();
  const std::int64_t ts = now_ms();
  const std::string ndjson = event("1", "buyer_message", "s1", "c1", ts) + "\n\n" +
                             event("2", "agent_message", "s1", "c1", ts + 100) + "\n" +
                             event("3", "buyer_message", "s1", "c2", ts + 200) + "\n";
  auto first = json_of(http_call(port, "POST", "/v1/events", ndjson, kNdjson).body);
  CHECK(first == json_of(R"({"accepted":3,"duplicates":0,"rejected":[]})"));
  auto again = json_of(http_call(port, "POST", "/v1/events", ndjson, kNdjson).body);
  CHECK(again == json_of(R"({"accepted":0,"duplicates":3,"rejected":[]})"));
  const std::string array = "[" + event("3", "buyer_message", "s1", "c2", ts + 200) + "," +
                            event("4", "bot_message", "s1", "c2", ts + 300, R"("bot":"paidbot")") +
                            "]";
  auto mixed = json_of(http_call(port, "POST", "/v1/events", array, kJson).body);
  CHECK(mixed == json_of(R"({"accepted":1,"duplicates":1,"rejected":[]})"));
  // Ten seconds old: behind the watermark.
  auto late = json_of(http_call(port, "POST", "/v1/events",
                                event("5", "buyer_message", "s1", "c9", ts - 10'000), kJson)
                          .body);
  CHECK(late == json_of(R"({"accepted":1,"duplicates":0,"rejected":[]})"));

  const auto samples = scrape(daemon);
  CHECK(value_or(samples, R"(replywatch_events_duplicate_total{platform="testchat"})") == 4);
  CHECK(value_or(samples, R"(replywatch_events_late_total{platform="testchat"})") == 1);
  CHECK(value_or(samples,
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        6);
}

TEST_CASE("A large NDJSON body, decoded in two halves, is answered by body index", "[daemon]") {
  TempDir dir("halves");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));
  const std::int64_t ts = now_ms();
  // Well past the size decoded in two halves; bad lines in both halves, and copies of events
  // of the first half in the second (id 10 was a broken line: its copy is accepted).
  std::string body;
  const int lines = 2000;
  for (int i = 0; i < lines; ++i) {
    if (i == 10 || i == 1500) {
      body += "{broken\n";
    } else if (i >= 1900) {
      body += event(std::to_string(i - 1900), "buyer_message", "s1", "c" + std::to_string(i - 1900),
                    ts) +
              "\n";
    } else {
      body += event(std::to_string(i), "buyer_message", "s1", "c" + std::to_string(i), ts) + "\n";
    }
  }
  REQUIRE(body.size() > 128 * 1024);
  const auto reply = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kNdjson);
  CHECK(reply.status == 422);
  CHECK(json_of(reply.body) ==
        json_of(R"({"accepted":1899,"duplicates":99,"rejected":[)"
                R"({"index":10,"reason":"bad_json"},{"index":1500,"reason":"bad_json"}]})"));
  const auto samples = scrape(daemon);
  CHECK(value_or(samples,
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        1998);
}

TEST_CASE("Deadlines fire in real time: at risk before the deadline, breached right after it",
          "[daemon]") {
  TempDir dir("realtime");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));
  const std::int64_t start = now_ms();
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events",
                    event("b1", "buyer_message", "s1", "buyer-42", start), kJson)
              .status == 200);
  auto elapsed_ms = [&] { return now_ms() - start; };

  // Before the warning point (1 s) the round is open and not at risk.
  auto early = json_of(http_call(daemon.admin_port(), "GET", "/v1/at-risk?shop=s1").body);
  if (elapsed_ms() < 900) {
    const auto& slas = early.at("slas").as_array();
    for (const auto& sla : slas) {
      for (const auto& round : sla.at("rounds").as_array())
        CHECK_FALSE(round.at("at_risk").as_bool());
    }
  }

  std::int64_t at_risk_seen = -1;
  boost::json::value at_risk_round;
  REQUIRE(eventually(
      [&] {
        auto report = json_of(http_call(daemon.admin_port(), "GET", "/v1/at-risk").body);
        for (const auto& sla : report.at("slas").as_array()) {
          if (sla.at("sla").as_string() != "reply_2s") continue;
          for (const auto& round : sla.at("rounds").as_array()) {
            if (round.at("at_risk").as_bool()) {
              at_risk_seen = elapsed_ms();
              at_risk_round = round;
              return true;
            }
          }
        }
        return false;
      },
      std::chrono::seconds(5)));
  CHECK(at_risk_seen >= 1000);
  CHECK(at_risk_seen < 2000);
  CHECK(at_risk_round.at("conversation").as_string() == "buyer-42");
  CHECK(at_risk_round.at("seconds_left").to_number<double>() <= 1.0);
  CHECK(at_risk_round.at("seconds_left").to_number<double>() > 0.0);
  CHECK(value_or(scrape(daemon), series("replywatch_rounds_at_risk", "s1", "reply_2s")) == 1);

  std::int64_t breach_seen = -1;
  REQUIRE(eventually(
      [&] {
        if (value_or(scrape(daemon), series("replywatch_sla_breaches_total", "s1", "reply_2s")) ==
            1) {
          breach_seen = elapsed_ms();
          return true;
        }
        return false;
      },
      std::chrono::seconds(5)));
  CHECK(breach_seen >= 2000);
  CHECK(breach_seen < 3000);  // within about a second of the deadline
  const auto samples = scrape(daemon);
  CHECK(value_or(samples, series("replywatch_rounds_open", "s1", "reply_2s")) == 0);
  CHECK(value_or(samples, series("replywatch_sla_warnings_total", "s1", "reply_2s")) == 1);
  CHECK(value_or(samples, series("replywatch_sla_compliance_ratio", "s1", "reply_2s")) == 0);
}

TEST_CASE("Reload is all or nothing, by POST and by SIGHUP, and keeps the state", "[daemon]") {
  TempDir dir("reload");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));
  const std::int64_t ts = now_ms() - 60'000;
  const std::string body = "[" + event("1", "buyer_message", "s1", "c1", ts) + "," +
                           event("2", "agent_message", "s1", "c1", ts + 500) + "]";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
  REQUIRE(value_or(scrape(daemon), series("replywatch_sla_rounds_total", "s1", "reply_2s")) == 1);

  // A retried webhook: a duplicate, never journaled, still counted after every reload.
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
  auto good = http_call(daemon.admin_port(), "POST", "/-/reload");
  CHECK(good.status == 200);
  CHECK(json_of(good.body).at("status").as_string() == "success");

  // A bad duration: refused with its position, the old rules stay.
  std::string broken = kTestRules;
  broken.replace(broken.find("deadline: 2s"), 12, "deadline: 2 parsecs");
  dir.write("rules/testchat.yaml", broken);
  auto bad = http_call(daemon.admin_port(), "POST", "/-/reload");
  CHECK(bad.status == 422);
  const auto errors = json_of(bad.body).at("errors").as_array();
  REQUIRE(errors.size() >= 1);
  CHECK(std::string(errors[0].as_string()).find("testchat.yaml:9:15: ") != std::string::npos);
  daemon.wait_for_log("testchat.yaml:9:15: ");
  auto samples = scrape(daemon);
  CHECK(value_or(samples, "replywatch_rules_last_reload_successful") == 0);
  CHECK(value_or(samples, series("replywatch_sla_rounds_total", "s1", "reply_2s")) == 1);
  CHECK(http_call(daemon.ingest_port(), "POST", "/v1/events",
                  event("3", "buyer_message", "s1", "c2", now_ms()), kJson)
            .status == 200);

  // Fixed, with one SLA more, and reloaded by SIGHUP: the new SLA appears, the state stays.
  std::string extended = kTestRules;
  extended += R"(  - name: reply_10s
    kind: reply_time
    rounds: first
    deadline: 10s
)";
  dir.write("rules/testchat.yaml", extended);
  daemon.signal(SIGHUP);
  daemon.wait_for_log(R"(reloaded 1 rule file\(s\) \(SIGHUP\))");
  samples = scrape(daemon);
  CHECK(value_or(samples, "replywatch_rules_last_reload_successful") == 1);
  CHECK(value_or(samples, series("replywatch_sla_rounds_total", "s1", "reply_2s")) == 1);
  CHECK(value_or(samples, series("replywatch_sla_rounds_total", "s1", "reply_10s")) == 1);
  CHECK(value_or(samples, R"(replywatch_events_duplicate_total{platform="testchat"})") == 2);
  CHECK(value_or(samples,
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        3);
  // c2's message waits out the 100 ms reorder window before its round opens.
  CHECK(eventually(
      [&] {
        return value_or(scrape(daemon), series("replywatch_rounds_open", "s1", "reply_10s")) == 1;
      },
      std::chrono::seconds(2)));
}

TEST_CASE("promtool accepts a real scrape", "[daemon][promtool]") {
  TempDir dir("promtool");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));
  const std::int64_t ts = now_ms() - 30'000;
  const std::string body =
      "[" + event("1", "buyer_message", "s1", "c1", ts) + "," +
      event("2", "agent_message", "s1", "c1", ts + 1500) + "," +
      event("3", "buyer_message", "s2", "c1", ts + 2000) + "," +
      event("4", "agent_status", "s2", "", ts + 2000, R"("agent":"a1","status":"online")") + "]";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
  const auto reply = http_call(daemon.admin_port(), "GET", "/metrics");
  REQUIRE(reply.status == 200);
  CHECK(reply.headers.at("content-type").starts_with("text/plain; version=0.0.4"));
  dir.write("scrape.txt", reply.body);
  const auto [status, output] =
      shell("promtool check metrics < " + (dir.path() / "scrape.txt").string());
  INFO(output);
  // No lint finding at all: every name of docs/metrics.md follows Prometheus's conventions.
  CHECK(status == 0);
  CHECK(output.find_first_not_of(" \n") == std::string::npos);
  for (const char* name : {"replywatch_events_received_total",
                           "replywatch_events_rejected_total",
                           "replywatch_events_duplicate_total",
                           "replywatch_events_late_total",
                           "replywatch_sla_rounds_total",
                           "replywatch_sla_breaches_total",
                           "replywatch_sla_warnings_total",
                           "replywatch_understaffed_seconds_total",
                           "replywatch_response_seconds_bucket",
                           "replywatch_rounds_open",
                           "replywatch_rounds_at_risk",
                           "replywatch_oldest_open_round_start_timestamp_seconds",
                           "replywatch_sla_window_rounds",
                           "replywatch_sla_compliance_ratio",
                           "replywatch_sla_objective_ratio",
                           "replywatch_sla_error_budget_remaining_rounds",
                           "replywatch_average_response_seconds",
                           "replywatch_sla_violating",
                           "replywatch_agents_online",
                           "replywatch_service_open",
                           "replywatch_rules_last_reload_successful",
                           "replywatch_rules_last_reload_success_timestamp_seconds",
                           "replywatch_build_info",
                           "process_cpu_seconds_total",
                           "process_resident_memory_bytes",
                           "process_open_fds",
                           "process_start_time_seconds"}) {
    INFO(name);
    CHECK(reply.body.find(std::string("\n") + name) != std::string::npos);
  }
  // The histogram's bounds include every threshold of the rules: 2, 1 (warning), 3 and 4 s.
  for (const char* bound : {"le=\"1\"", "le=\"2\"", "le=\"3\"", "le=\"4\"", "le=\"+Inf\""}) {
    CHECK(reply.body.find(bound) != std::string::npos);
  }
  // Conversation keys never become label values.
  CHECK(reply.body.find("\"c1\"") == std::string::npos);
}

TEST_CASE("SIGTERM stops gracefully and a restart restores every acknowledged event", "[daemon]") {
  TempDir dir("restart");
  dir.write("rules/testchat.yaml", kTestRules);
  const std::int64_t ts = now_ms() - 60'000;
  const std::string body = "[" + event("1", "buyer_message", "s1", "c1", ts) + "," +
                           event("2", "agent_message", "s1", "c1", ts + 2500) + "," +
                           event("3", "buyer_message", "s1", "c2", ts + 3000) + "]";
  std::map<std::string, double> before;
  {
    DaemonProcess daemon(base_args(dir));
    REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
    before = scrape(daemon);
    HttpClient idle(daemon.admin_port());  // a keep-alive connection with nothing in flight
    REQUIRE(idle.request("GET", "/-/healthy").status == 200);
    const auto stop_started = Clock::now();
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(std::chrono::seconds(5)) == 0);
    CHECK(Clock::now() - stop_started < std::chrono::seconds(5));
    CHECK(daemon.log().find("SIGTERM: stopping") != std::string::npos);
  }
  DaemonProcess daemon(base_args(dir));
  daemon.wait_for_log("restored 3 journal record");
  const auto after = scrape(daemon);
  for (const char* name :
       {"replywatch_sla_rounds_total", "replywatch_sla_breaches_total", "replywatch_rounds_open"}) {
    for (const char* sla : {"reply_2s", "average_3s"}) {
      INFO(name << " " << sla);
      CHECK(value_or(after, series(name, "s1", sla)) == value_or(before, series(name, "s1", sla)));
    }
  }
  // Dedup survives the restart.
  auto again = json_of(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).body);
  CHECK(again == json_of(R"({"accepted":0,"duplicates":3,"rejected":[]})"));
}

TEST_CASE("The daemon's metrics and replay's report agree on the same events", "[daemon]") {
  TempDir dir("agree");
  dir.write("rules/testchat.yaml", kTestRules);
  DaemonProcess daemon(base_args(dir));

  // Two and a half seconds of traffic starting half a second from now, so every event reaches
  // the daemon before the watermark passes it and is applied in time order, as replay does.
  const std::int64_t base = now_ms() + 500;
  std::mt19937 random(7);
  std::vector<std::string> events;
  int id = 0;
  for (const char* shop : {"s1", "s2", "s3"}) {
    events.push_back(event("st" + std::to_string(++id), "agent_status", shop, "", base,
                           R"("agent":"a1","status":"online")"));
  }
  for (int i = 0; i < 60; ++i) {
    const std::string shop = "s" + std::to_string(1 + random() % 3);
    const std::string conversation = "c" + std::to_string(random() % 8);
    const std::int64_t ts = base + static_cast<std::int64_t>(random() % 2500);
    switch (random() % 5) {
      case 0:
      case 1:
        events.push_back(
            event("e" + std::to_string(++id), "buyer_message", shop, conversation, ts));
        break;
      case 2:
        events.push_back(
            event("e" + std::to_string(++id), "agent_message", shop, conversation, ts));
        break;
      case 3:
        events.push_back(event("e" + std::to_string(++id), "bot_message", shop, conversation, ts,
                               R"("bot":"paidbot")"));
        break;
      default:
        events.push_back(event("e" + std::to_string(++id), "agent_status", shop, "", ts,
                               std::string(R"("agent":"a1","status":")") +
                                   (random() % 2 ? "online" : "offline") + "\""));
        break;
    }
  }
  // Everyone back online at the end, so understaffed time stops growing before the comparison.
  for (const char* shop : {"s1", "s2", "s3"}) {
    events.push_back(event("end" + std::to_string(++id), "agent_status", shop, "", base + 2600,
                           R"("agent":"a2","status":"online")"));
  }
  events.push_back(events[10]);  // a retried webhook

  // The recorded file in time order, as an archive of webhooks would be (the daemon got them
  // out of order, within its reorder window).
  std::vector<std::pair<std::int64_t, std::string>> by_time;
  for (const auto& line : events) {
    by_time.emplace_back(json_of(line).at("ts").as_int64(), line);
  }
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string file;
  for (const auto& [ts, line] : by_time) file += line + "\n";
  dir.write("events.ndjson", file);
  // Half as NDJSON, half as an array.
  const std::size_t half = events.size() / 2;
  std::string ndjson, array = "[";
  for (std::size_t i = 0; i < half; ++i) ndjson += events[i] + "\n";
  for (std::size_t i = half; i < events.size(); ++i) array += (i > half ? "," : "") + events[i];
  array += "]";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", ndjson, kNdjson).status == 200);
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", array, kJson).status == 200);

  // Everything is decided 4 s (the cost cap) after the last buyer message.
  REQUIRE(eventually(
      [&] {
        if (now_ms() < base + 2600 + 4100) return false;
        for (const auto& [name, value] : scrape(daemon)) {
          if (name.starts_with("replywatch_rounds_open{") && value != 0) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  const auto samples = scrape(daemon);
  const auto at_risk = json_of(http_call(daemon.admin_port(), "GET", "/v1/at-risk").body);
  const std::string until(at_risk.at("watermark").as_string());

  const auto [status, output] =
      shell(std::string(REPLYWATCH_BINARY) + " replay --format json --rules " +
            (dir.path() / "rules").string() + " --until " + until + " " +
            (dir.path() / "events.ndjson").string());
  REQUIRE(status == 0);
  const auto report = json_of(output);
  CHECK(report.at("events").at("accepted").as_int64() ==
        static_cast<std::int64_t>(events.size() - 1));
  CHECK(report.at("events").at("duplicates").as_int64() == 1);
  CHECK(value_or(samples, R"(replywatch_events_duplicate_total{platform="testchat"})") == 1);
  CHECK(value_or(samples, R"(replywatch_events_late_total{platform="testchat"})") ==
        report.at("events").at("late").to_number<double>());

  const auto& slas = report.at("slas").as_array();
  REQUIRE(slas.size() == 9);
  for (const auto& entry : slas) {
    const std::string shop(entry.at("shop").as_string());
    const std::string sla(entry.at("sla").as_string());
    INFO(shop << " " << sla);
    auto metric = [&](const char* name) { return value_or(samples, series(name, shop, sla)); };
    auto number = [&](const char* field) { return entry.at(field).to_number<double>(); };
    CHECK(metric("replywatch_sla_rounds_total") == number("rounds"));
    CHECK(metric("replywatch_sla_breaches_total") == number("breaches"));
    CHECK(metric("replywatch_sla_warnings_total") == number("warnings"));
    CHECK(metric("replywatch_rounds_open") == number("open_rounds"));
    CHECK(metric("replywatch_sla_window_rounds") == number("window_rounds"));
    CHECK(metric("replywatch_sla_compliance_ratio") == Approx(number("compliance_ratio")));
    CHECK(metric("replywatch_average_response_seconds") ==
          Approx(number("average_response_seconds")));
    CHECK(metric("replywatch_understaffed_seconds_total") ==
          Approx(number("understaffed_seconds")).margin(1e-9));
    CHECK(metric("replywatch_sla_violating") == (entry.at("violating").as_bool() ? 1 : 0));
    if (!entry.at("error_budget_remaining_rounds").is_null()) {
      CHECK(metric("replywatch_sla_error_budget_remaining_rounds") ==
            number("error_budget_remaining_rounds"));
    }
    if (sla != "online") {
      CHECK(value_or(samples, "replywatch_response_seconds_count" + series("", shop, sla)) ==
            number("rounds"));
    }
  }
}

TEST_CASE("The daemon tells systemd when it is ready, reloading and stopping", "[daemon]") {
  TempDir dir("notify");
  dir.write("rules/testchat.yaml", kTestRules);
  // A stand-in for systemd's notification socket.
  const std::string socket_path = (dir.path() / "notify.sock").string();
  const int notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(notify_fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(socket_path.size() < sizeof address.sun_path);
  std::copy(socket_path.begin(), socket_path.end(), address.sun_path);
  REQUIRE(::bind(notify_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  const timeval wait{5, 0};
  ::setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  auto next_message = [&] {
    char buffer[512];
    const ssize_t n = ::recv(notify_fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  };

  ::setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  DaemonProcess daemon(base_args(dir));
  ::unsetenv("NOTIFY_SOCKET");
  CHECK(next_message().starts_with("READY=1"));
  // Changed files: a reload of unchanged ones rebuilds nothing and tells systemd nothing.
  dir.write("rules/testchat.yaml", std::string(kTestRules) + "# changed\n");
  daemon.signal(SIGHUP);
  CHECK(next_message() == "RELOADING=1");
  CHECK(next_message().starts_with("READY=1"));
  daemon.signal(SIGTERM);
  CHECK(next_message() == "STOPPING=1");
  CHECK(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  ::close(notify_fd);
}

TEST_CASE("A client trickling its header loses its connection after the read timeout", "[daemon]") {
  TempDir dir("slow");
  dir.write("rules/testchat.yaml", kTestRules);
  auto args = base_args(dir);
  args.insert(args.end(), {"--read-timeout", "1s", "--idle-timeout", "10s"});
  DaemonProcess daemon(args);
  HttpClient slow(daemon.ingest_port());
  const std::string head = "POST /v1/events HTTP/1.1\r\nHost: x\r\n";
  const auto started = Clock::now();
  bool cut = false;
  for (char c : head) {
    cut = !slow.send_raw(std::string_view(&c, 1));
    if (cut) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!cut) cut = !slow.receive_some(256).has_value();
  // Cut about a second after its first byte, long before its header could have been complete.
  CHECK(cut);
  CHECK(Clock::now() - started < std::chrono::milliseconds(2500));
  CHECK(eventually(
      [&] {
        return value_or(
                   scrape(daemon),
                   R"(replywatch_http_requests_refused_total{listener="ingest",reason="timeout"})") ==
               1;
      },
      std::chrono::seconds(2)));
}

TEST_CASE("At the connection cap an idle connection makes room; busy ones get 503", "[daemon]") {
  TempDir dir("cap");
  dir.write("rules/testchat.yaml", kTestRules);
  auto args = base_args(dir);
  args.insert(args.end(), {"--max-connections", "2"});
  DaemonProcess daemon(args);
  const auto port = daemon.ingest_port();
  HttpClient first(port);
  HttpClient second(port);
  REQUIRE(
      first.request("POST", "/v1/events", event("1", "buyer_message", "s1", "c1", now_ms()), kJson)
          .status == 200);
  REQUIRE(
      second.request("POST", "/v1/events", event("2", "buyer_message", "s1", "c2", now_ms()), kJson)
          .status == 200);
  // Both are idle keep-alive connections now: a third client still gets in.
  CHECK(http_call(port, "POST", "/v1/events", event("3", "buyer_message", "s1", "c3", now_ms()),
                  kJson)
            .status == 200);

  // Two connections in the middle of a request are not idle: the next one is turned away.
  // (Each is given time to send its first bytes; until then it would count as idle itself.)
  HttpClient busy_a(port);
  REQUIRE(busy_a.send_raw("POST /v1/events HT"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpClient busy_b(port);
  REQUIRE(busy_b.send_raw("POST /v1/events HT"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpClient refused(port);
  CHECK(refused.receive_some(256).value_or("").starts_with("HTTP/1.1 503"));
  CHECK(eventually(
      [&] {
        return value_or(
                   scrape(daemon),
                   R"(replywatch_http_requests_refused_total{listener="ingest",reason="connection_cap"})") >=
               1;
      },
      std::chrono::seconds(2)));
}

TEST_CASE("An unreachable Alertmanager is counted, and ingest goes on as before",
          "[daemon][alertmanager]") {
  TempDir dir("alertmanager_down");
  std::string rules = kTestRules;
  const std::string anchor = "    warn_before: 1s\n";
  rules.insert(rules.find(anchor) + anchor.size(), "    notify: page\n");
  dir.write("rules/testchat.yaml", rules);
  // A port nobody listens on: bound, then closed.
  unsigned short closed_port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(0)});
    closed_port = acceptor.local_endpoint().port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port);
  const std::string config = dir.write("replywatch.yaml", "alertmanager:\n  urls: [" + url + "]\n");
  auto args = base_args(dir);
  args.insert(args.end(), {"--config", config});
  DaemonProcess daemon(args);

  // Rounds already past their warning point and deadline: pages are due at once.
  const std::int64_t ts = now_ms() - 5'000;
  std::string body = "[";
  for (int i = 0; i < 20; ++i) {
    if (i > 0) body += ",";
    body += event("b" + std::to_string(i), "buyer_message", "s1", "c" + std::to_string(i), ts);
  }
  body += "]";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
  const std::string failed =
      R"(replywatch_alertmanager_notifications_failed_total{url=")" + url + R"("})";
  CHECK(
      eventually([&] { return value_or(scrape(daemon), failed, 0) > 0; }, std::chrono::seconds(5)));

  // While it keeps retrying, every request is answered at once and every event is taken.
  for (int i = 0; i < 20; ++i) {
    const auto started = Clock::now();
    const auto reply =
        http_call(daemon.ingest_port(), "POST", "/v1/events",
                  event("later" + std::to_string(i), "buyer_message", "s2", "c", now_ms()), kJson);
    CHECK(reply.status == 200);
    CHECK(Clock::now() - started < std::chrono::seconds(1));
  }
  const auto samples = scrape(daemon);
  CHECK(value_or(samples,
                 R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})") ==
        40);
  CHECK(value_or(samples, R"(replywatch_alertmanager_notifications_total{url=")" + url + R"("})") ==
        0);
  CHECK(value_or(samples, "replywatch_alertmanager_notifications_dropped_total") == 0);
}

namespace {

// Alertmanager's stand-in for the daemon tests: a thread answering 200 to every POST and
// keeping every alert object posted.
class AlertSink {
 public:
  AlertSink() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~AlertSink() {
    stop_ = true;
    boost::system::error_code ignored;
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<boost::json::object> alerts() {
    std::lock_guard lock(mutex_);
    return alerts_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    alerts_.clear();
  }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error || stop_) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, error);
      if (error) continue;
      const boost::json::value posted = boost::json::parse(request.body());
      {
        std::lock_guard lock(mutex_);
        for (const auto& alert : posted.as_array()) alerts_.push_back(alert.as_object());
      }
      http::response<http::string_body> response{http::status::ok, 11};
      response.keep_alive(false);
      response.prepare_payload();
      http::write(socket, response, error);
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<boost::json::object> alerts_;
};

std::string label(const boost::json::object& alert, const char* name) {
  return std::string(alert.at("labels").as_object().at(name).as_string());
}

bool resolved(const boost::json::object& alert) {
  const auto ends = replywatch::parse_rfc3339(alert.at("endsAt").as_string());
  return ends && ends->time_since_epoch().count() <= now_ms();
}

}  // namespace

TEST_CASE("A restart posts the conversation alerts active now, and nothing from the history",
          "[daemon][alertmanager]") {
  TempDir dir("alertmanager_restart");
  std::string rules = kTestRules;
  const std::string anchor = "    warn_before: 1s\n";
  rules.insert(rules.find(anchor) + anchor.size(), "    notify: page\n");
  dir.write("rules/testchat.yaml", rules);
  AlertSink sink;
  const std::string config =
      dir.write("replywatch.yaml", "alertmanager:\n  urls: [" + sink.url() + "]\n");
  auto args = base_args(dir);
  args.insert(args.end(), {"--config", config});
  {
    DaemonProcess daemon(args);
    // c1 is warned, then answered; c2 waits past its deadline.
    const std::int64_t ts = now_ms() - 10'000;
    REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events",
                      "[" + event("b1", "buyer_message", "s1", "c1", ts) + "," +
                          event("b2", "buyer_message", "s1", "c2", ts) + "]",
                      kJson)
                .status == 200);
    REQUIRE(eventually([&] { return sink.alerts().size() >= 3; }, std::chrono::seconds(5)));
    REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events",
                      event("a1", "agent_message", "s1", "c1", now_ms()), kJson)
                .status == 200);
    REQUIRE(eventually(
        [&] {
          const auto alerts = sink.alerts();
          return std::any_of(alerts.begin(), alerts.end(), [](const auto& alert) {
            return label(alert, "conversation") == "c1" && resolved(alert);
          });
        },
        std::chrono::seconds(5)));
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  }
  sink.clear();
  DaemonProcess daemon(args);
  daemon.wait_for_log("restored 3 journal record");
  REQUIRE(eventually([&] { return sink.alerts().size() >= 2; }, std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything more would show now
  const auto alerts = sink.alerts();
  for (const auto& alert : alerts) UNSCOPED_INFO(boost::json::serialize(alert));
  // Firing: exactly c2's two alerts. c1's answer was still in the reorder buffer when the
  // journal was read back, so its resolution may be posted again (harmless: already resolved).
  std::vector<std::string> firing;
  for (const auto& alert : alerts) {
    if (resolved(alert)) {
      CHECK(label(alert, "conversation") == "c1");
    } else {
      CHECK(label(alert, "conversation") == "c2");
      firing.push_back(label(alert, "alertname"));
    }
    CHECK_THAT(std::string(alert.at("generatorURL").as_string()),
               Catch::StartsWith("http://127.0.0.1:" + std::to_string(daemon.admin_port()) +
                                 "/v1/at-risk?platform=testchat&shop=s1"));
  }
  std::sort(firing.begin(), firing.end());
  CHECK(firing == std::vector<std::string>{"ReplyConversationAtRisk", "ReplyConversationOverdue"});
}

// AlertmanagerClient against a loopback stand-in for Alertmanager: batches, retries with
// backoff, a bounded queue, and the counters. Real sockets on 127.0.0.1, no sleeping: the test
// runs the io_context until the outcome is there.
#include "alertmanager_client.h"

#include <prometheus/registry.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <memory>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using replywatch::server::AlertmanagerClient;
using replywatch::server::AlertmanagerClientSettings;

class FixedTime final : public replywatch::server::TimeSource {
 public:
  replywatch::Instant now() const override { return replywatch::Instant{}; }
  replywatch::server::SteadyInstant steady_now() const override { return {}; }
};

// Answers each POST with the next status of `statuses` (200 once they run out) and keeps the
// requests' targets and alert counts.
class FakeAlertmanager {
 public:
  explicit FakeAlertmanager(net::io_context& io, std::deque<unsigned> statuses = {})
      : acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}), statuses_(std::move(statuses)) {
    accept();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> targets;
  std::vector<std::size_t> alerts_per_request;
  std::size_t accepted_alerts = 0;

 private:
  struct Exchange {
    explicit Exchange(net::any_io_executor executor) : socket(executor) {}
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
  };

  void accept() {
    auto exchange = std::make_shared<Exchange>(acceptor_.get_executor());
    acceptor_.async_accept(exchange->socket, [this, exchange](boost::system::error_code error) {
      if (error) return;
      accept();
      http::async_read(exchange->socket, exchange->buffer, exchange->request,
                       [this, exchange](boost::system::error_code read_error, std::size_t) {
                         if (read_error) return;
                         respond(exchange);
                       });
    });
  }

  void respond(const std::shared_ptr<Exchange>& exchange) {
    targets.push_back(std::string(exchange->request.target()));
    const std::size_t alerts = boost::json::parse(exchange->request.body()).as_array().size();
    alerts_per_request.push_back(alerts);
    unsigned status = 200;
    if (!statuses_.empty()) {
      status = statuses_.front();
      statuses_.pop_front();
    }
    if (status / 100 == 2) accepted_alerts += alerts;
    exchange->response = {static_cast<http::status>(status), 11};
    exchange->response.body() = status == 200 ? "" : "overloaded";
    exchange->response.keep_alive(false);
    exchange->response.prepare_payload();
    http::async_write(exchange->socket, exchange->response,
                      [exchange](boost::system::error_code, std::size_t) {});
  }

  tcp::acceptor acceptor_;
  std::deque<unsigned> statuses_;
};

struct Rig {
  explicit Rig(std::deque<unsigned> statuses = {}, AlertmanagerClientSettings settings = {},
               std::string prefix = "")
      : fake(io, std::move(statuses)),
        family(prometheus::BuildCounter().Name("c_total").Help("c").Register(registry)),
        sent(family.Add({{"k", "sent"}})),
        failed(family.Add({{"k", "failed"}})),
        dropped(family.Add({{"k", "dropped"}})),
        log(time) {
    const std::string url = "http://127.0.0.1:" + std::to_string(fake.port()) + prefix;
    std::vector<AlertmanagerClient::Target> targets;
    targets.push_back({url, *replywatch::server::parse_http_url(url), {&sent, &failed}});
    settings.first_backoff = std::chrono::milliseconds(1);
    client =
        std::make_unique<AlertmanagerClient>(io, std::move(targets), dropped, log, time, settings);
  }

  // Runs the loop until `done` (or a generous bound, so a bug fails instead of hanging).
  template <typename Done>
  bool run_until(Done done) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < limit) {
      io.run_one_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  net::io_context io;
  FakeAlertmanager fake;
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& family;
  prometheus::Counter& sent;
  prometheus::Counter& failed;
  prometheus::Counter& dropped;
  FixedTime time;
  replywatch::server::Logger log;
  std::unique_ptr<AlertmanagerClient> client;
};

std::vector<std::string> alerts(int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.push_back(R"({"labels":{"n":")" + std::to_string(i) + "\"}}");
  return out;
}

}  // namespace

TEST_CASE("alertmanager_client: posts batches to /api/v2/alerts under the URL's prefix",
          "[alertmanager_client]") {
  AlertmanagerClientSettings settings;
  settings.max_batch = 4;
  Rig rig({}, settings, "/am/");
  rig.client->send(alerts(10));
  REQUIRE(rig.run_until([&] { return rig.sent.Value() == 10; }));
  CHECK(rig.fake.alerts_per_request == std::vector<std::size_t>{4, 4, 2});
  for (const auto& target : rig.fake.targets) CHECK(target == "/am/api/v2/alerts");
  CHECK(rig.failed.Value() == 0);
  CHECK(rig.client->queued() == 0);
}

TEST_CASE("alertmanager_client: a failed batch is retried with backoff and counted",
          "[alertmanager_client]") {
  Rig rig({503, 500});
  rig.client->send(alerts(3));
  REQUIRE(rig.run_until([&] { return rig.sent.Value() == 3; }));
  CHECK(rig.fake.alerts_per_request == std::vector<std::size_t>{3, 3, 3});
  CHECK(rig.failed.Value() == 6);  // two failed attempts of three alerts
  CHECK(rig.fake.accepted_alerts == 3);
}

TEST_CASE("alertmanager_client: a batch is given up after max_attempts; the next one goes on",
          "[alertmanager_client]") {
  AlertmanagerClientSettings settings;
  settings.max_attempts = 2;
  Rig rig({500, 500}, settings);
  rig.client->send(alerts(2));
  rig.client->send(alerts(1));
  REQUIRE(rig.run_until([&] { return rig.sent.Value() == 1; }));
  CHECK(rig.failed.Value() == 4);
  CHECK(rig.fake.alerts_per_request == std::vector<std::size_t>{2, 2, 1});
}

TEST_CASE("alertmanager_client: a full queue drops and counts; sending never waits",
          "[alertmanager_client]") {
  AlertmanagerClientSettings settings;
  settings.max_queued_alerts = 5;
  Rig rig({}, settings);
  rig.client->send(alerts(8));  // returns at once: nothing is sent before the loop runs
  CHECK(rig.dropped.Value() == 3);
  REQUIRE(rig.run_until([&] { return rig.sent.Value() == 5; }));
  CHECK(rig.fake.accepted_alerts == 5);
}

TEST_CASE("alertmanager_client: nobody listening is a counted failure, not a hang",
          "[alertmanager_client]") {
  net::io_context io;
  unsigned short closed_port = 0;
  {
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    closed_port = acceptor.local_endpoint().port();
  }
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("c_total").Help("c").Register(registry);
  auto& sent = family.Add({{"k", "sent"}});
  auto& failed = family.Add({{"k", "failed"}});
  FixedTime time;
  replywatch::server::Logger log(time);
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port);
  std::vector<AlertmanagerClient::Target> targets;
  targets.push_back({url, *replywatch::server::parse_http_url(url), {&sent, &failed}});
  AlertmanagerClientSettings settings;
  settings.first_backoff = std::chrono::milliseconds(1);
  settings.max_attempts = 3;
  AlertmanagerClient client(io, std::move(targets), family.Add({{"k", "dropped"}}), log, time,
                            settings);
  client.send(alerts(2));
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (failed.Value() < 6 && std::chrono::steady_clock::now() < limit) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  CHECK(failed.Value() == 6);  // three attempts of two alerts, then given up
  CHECK(sent.Value() == 0);
  CHECK(client.queued() == 0);
}

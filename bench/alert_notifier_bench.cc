// Latency of the daemon's conversation pages under load: many rounds reach their warning point
// in the same millisecond, and the time is measured from the engine being advanced past that
// instant (what the daemon's timer does at warning + allowed lateness) until the last alert
// has arrived at a local HTTP sink standing in for Alertmanager, through the real notifier and
// the real AlertmanagerClient on an io_context.
//
// Prints medians of several repetitions. The baseline, measured in the same run, is the same
// advance with no notifier attached: the difference is what paging adds to the engine's step.
//
//   build/bench/alert_notifier_bench [--rounds N,N,...] [--repeat R]
#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "alert_notifier.h"
#include "alertmanager_client.h"
#include "log.h"
#include "replywatch/engine.h"
#include "replywatch/rule_loader.h"

namespace {

using replywatch::Duration;
using replywatch::Instant;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using BenchClock = std::chrono::steady_clock;  // measures this process, not event time

constexpr const char* kRules = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_60s
    kind: reply_time
    deadline: 60s
    warn_before: 20s
    notify: page
)";

// Alertmanager's stand-in: answers 200 to every POST and counts the alerts it received.
class Sink {
 public:
  Sink() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Sink() {
    stop_ = true;
    boost::system::error_code ignored;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::size_t received() const { return received_.load(); }
  void reset() { received_ = 0; }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error || stop_) continue;
      boost::beast::flat_buffer buffer;
      http::request_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{256} << 20);
      http::read(socket, buffer, parser, error);
      if (error) continue;
      std::size_t alerts = 0;
      const std::string& body = parser.get().body();
      for (std::size_t at = body.find("\"labels\""); at != std::string::npos;
           at = body.find("\"labels\"", at + 1)) {
        ++alerts;
      }
      http::response<http::string_body> response{http::status::ok, 11};
      response.keep_alive(false);
      response.prepare_payload();
      http::write(socket, response, error);
      received_ += alerts;
    }
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> received_{0};
};

class FixedTime final : public replywatch::server::TimeSource {
 public:
  Instant now() const override { return now_; }
  replywatch::server::SteadyInstant steady_now() const override { return {}; }
  Instant now_ = Instant(Duration(1763629200000));
};

struct Sample {
  double baseline_ms;  // advance without a notifier
  double advance_ms;   // advance with the notifier (effects recorded)
  double collect_ms;   // until the alerts are encoded and queued
  double first_ms;     // until the first alert arrived at the sink
  double last_ms;      // until the last one arrived
};

Sample run_once(std::shared_ptr<const replywatch::RuleSet> rules, std::size_t rounds, Sink& sink) {
  const Instant start = Instant(Duration(1763629200000));  // every buyer writes at this instant
  const Instant past_warning = start + std::chrono::seconds(40) + Duration(1);
  auto make_engine = [&] {
    auto engine = std::make_unique<replywatch::Engine>(rules);
    for (std::size_t i = 0; i < rounds; ++i) {
      replywatch::Event event;
      event.id = fmt::format("b{}", i);
      event.platform = "tmall";
      event.shop = fmt::format("shop{}", i % 50);
      event.conversation = fmt::format("buyer-{}", i);
      event.type = replywatch::EventType::kBuyerMessage;
      event.ts = start;
      engine->offer(std::move(event));
    }
    engine->advance(start + std::chrono::seconds(1));
    return engine;
  };

  Sample sample{};
  {
    auto engine = make_engine();
    const auto t0 = BenchClock::now();
    engine->advance(past_warning);
    sample.baseline_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
  }

  auto engine = make_engine();
  replywatch::server::NotifierSettings settings;
  settings.at_risk_base_url = "http://127.0.0.1:9871";
  settings.max_active = rounds + 1;
  replywatch::server::AlertNotifier notifier(*engine, settings);
  engine->set_effect_sink(&notifier);
  FixedTime time;
  notifier.go_live(nullptr, time.now());

  net::io_context io;
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("c").Help("c").Register(registry);
  replywatch::server::Logger log(time);
  std::vector<replywatch::server::AlertmanagerClient::Target> targets;
  const std::string url = fmt::format("http://127.0.0.1:{}", sink.port());
  targets.push_back({url,
                     *replywatch::server::parse_http_url(url),
                     {&family.Add({{"k", "sent"}}), &family.Add({{"k", "failed"}})}});
  replywatch::server::AlertmanagerClientSettings client_settings;
  client_settings.max_queued_alerts = rounds + 1;
  replywatch::server::AlertmanagerClient client(
      io, std::move(targets), family.Add({{"k", "dropped"}}), log, time, client_settings);
  sink.reset();

  const auto t0 = BenchClock::now();
  engine->advance(past_warning);
  sample.advance_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
  client.send(notifier.collect(time.now(), false));
  sample.collect_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
  bool first_seen = false;
  while (sink.received() < rounds) {
    io.run_one_for(std::chrono::milliseconds(1));
    if (!first_seen && sink.received() > 0) {
      first_seen = true;
      sample.first_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
    }
  }
  sample.last_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
  if (!first_seen) sample.first_ms = sample.last_ms;
  client.stop();
  return sample;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {100, 1000, 10000};
  int repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeat") {
      repeat = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--rounds") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (std::size_t at = 0; at < list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        sizes.push_back(std::stoul(list.substr(at, comma - at)));
        at = comma + 1;
      }
    }
  }
  auto loaded = replywatch::load_rule_text(kRules, "bench.yaml");
  if (!loaded.ok()) return 1;
  auto rules = std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
  Sink sink;
  fmt::print("rounds reaching their warning point in the same millisecond; medians of {} runs\n",
             repeat);
  fmt::print("{:>8} {:>12} {:>12} {:>12} {:>16} {:>16}\n", "rounds", "baseline ms", "advance ms",
             "queued ms", "first alert ms", "last alert ms");
  for (const std::size_t rounds : sizes) {
    std::vector<double> baseline, advance, queued, first, last;
    for (int r = 0; r < repeat; ++r) {
      const Sample sample = run_once(rules, rounds, sink);
      baseline.push_back(sample.baseline_ms);
      advance.push_back(sample.advance_ms);
      queued.push_back(sample.collect_ms);
      first.push_back(sample.first_ms);
      last.push_back(sample.last_ms);
    }
    fmt::print("{:>8} {:>12.3f} {:>12.3f} {:>12.3f} {:>16.3f} {:>16.3f}\n", rounds,
               median(baseline), median(advance), median(queued), median(first), median(last));
  }
  return 0;
}

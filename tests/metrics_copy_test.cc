// MetricsCopy: each step copies for a time budget read from the TimeSource's steady clock, at
// least one piece of shops per step, and what it renders does not depend on how many steps the
// copy took. The clock is a fake that moves only when read: nothing sleeps.
#include "metrics_copy.h"

#include <prometheus/metric_family.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "engine_host.h"
#include "engine_test_support.h"
#include "time_source.h"

using namespace rwtest;
using replywatch::server::EngineHost;
using replywatch::server::MetricsCopy;
using replywatch::server::SteadyInstant;
using replywatch::server::TimeSource;

namespace {

constexpr const char* kOneSlaYaml = R"(
platform: shop
timezone: UTC
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
)";

const Instant kT0 = Instant(Duration(1795357800000));  // 2026-11-22T14:30:00Z

// Steady time that moves on by `per_read` each time it is read.
class ReadTickingTime final : public TimeSource {
 public:
  explicit ReadTickingTime(Duration per_read) : per_read_(per_read) {}
  Instant now() const override { return kT0; }
  SteadyInstant steady_now() const override {
    ++reads;
    const SteadyInstant now = steady_;
    steady_ += per_read_;
    return now;
  }
  mutable int reads = 0;

 private:
  Duration per_read_;
  mutable SteadyInstant steady_{Duration(1'000'000)};
};

// 250 shops of one SLA each: 2.5 pieces of MetricsCopy::kSeriesPerLook.
struct Shops {
  EngineHost host{rules_from_yamls({kOneSlaYaml}), {}};
  Shops() {
    for (int i = 0; i < 250; ++i) {
      const std::string n = std::to_string(1000 + i);
      host.offer(buyer("b" + n, "shop-" + n, "c" + n, kT0, "shop"));
    }
    host.engine().advance(kT0 + sec(1));
  }
};

std::vector<prometheus::MetricFamily> own_families() {
  prometheus::ClientMetric metric;
  metric.gauge.value = 7;
  return {prometheus::MetricFamily{
      "replywatch_test_own", "The daemon's own.", prometheus::MetricType::Gauge, {metric}}};
}

// Steps until the copy is complete; the number of steps it took.
int steps_to_copy(MetricsCopy& copy) {
  int steps = 1;
  while (!copy.step()) ++steps;
  return steps;
}

// The rendered text without the process's own families, which change between reads.
std::string without_process(const std::string& text) {
  return text.substr(0, text.find("# HELP process_"));
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("metrics_copy: a step copies until its budget has passed on the steady clock",
          "[metrics_copy]") {
  static_assert(MetricsCopy::kSeriesPerLook == 100);
  Shops shops;
  const auto current = [&] { return std::pair<const EngineHost*, std::uint64_t>{&shops.host, 1}; };

  // 1 ms per read, 2 ms budget: the first step reads the clock before, after the first piece
  // (1 ms, under budget) and after the second (2 ms, done); the second step copies the rest.
  ReadTickingTime ticking(ms(1));
  MetricsCopy sliced(own_families(), 0.0, current, ticking, ms(2));
  CHECK_FALSE(sliced.step());
  CHECK(ticking.reads == 3);
  CHECK(sliced.step());
  CHECK(sliced.step());  // nothing more once done

  // A clock that never moves: everything in one step.
  ReadTickingTime frozen(ms(0));
  MetricsCopy whole(own_families(), 0.0, current, frozen, ms(2));
  CHECK(steps_to_copy(whole) == 1);

  // Each read past the budget: still a piece per step, so a copy always advances.
  ReadTickingTime slow(ms(50));
  MetricsCopy piecewise(own_families(), 0.0, current, slow, ms(2));
  CHECK(steps_to_copy(piecewise) == 3);

  const std::string text = without_process(whole.render());
  CHECK(count_of(text, "replywatch_sla_rounds_total{") == 250);
  CHECK(count_of(text, "replywatch_rounds_open{platform=\"shop\"") == 250);
  CHECK(text.find("replywatch_test_own 7\n") != std::string::npos);
  CHECK(without_process(sliced.render()) == text);
  CHECK(without_process(piecewise.render()) == text);
}

TEST_CASE("metrics_copy: without an engine host, only the daemon's own and the process's",
          "[metrics_copy]") {
  ReadTickingTime ticking(ms(1));
  MetricsCopy copy(
      own_families(), 0.0,
      [] {
        return std::pair<const EngineHost*, std::uint64_t>{nullptr, 0};
      },
      ticking);
  CHECK(copy.step());
  const std::string text = copy.render();
  CHECK(text.find("replywatch_test_own 7\n") != std::string::npos);
  CHECK(text.find("replywatch_sla_rounds_total") == std::string::npos);
}

// The scrape's text, written straight from a snapshot, is byte for byte what prometheus-cpp's
// TextSerializer writes for the same figures as metric families.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine_host.h"
#include "engine_metrics.h"
#include "engine_metrics_snapshot.h"
#include "engine_test_support.h"

using namespace rwtest;
using replywatch::server::engine_metric_families;
using replywatch::server::EngineHost;
using replywatch::server::EngineMetricsSnapshot;
using replywatch::server::snapshot_engine_metrics;
using replywatch::server::write_engine_metrics;

namespace {

constexpr const char* kShopYaml = R"(
platform: shop
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    objective: 0.9
  - name: first_10m
    kind: reply_time
    rounds: first
    deadline: 10m
  - name: avg_40s
    kind: average_response
    max_average: 40s
    unanswered_cost: 500s
  - name: agent_online
    kind: agent_presence
    min_online: 1
    grace: 30s
)";

constexpr const char* kOtherYaml = R"(
platform: other
timezone: UTC
slas:
  - name: quick_7s
    kind: reply_time
    deadline: 7s
)";

const Instant kT0 = Instant(Duration(1795357800000));  // 2026-11-22T14:30:00Z

std::string serialized(const EngineMetricsSnapshot& snapshot) {
  return prometheus::TextSerializer().Serialize(engine_metric_families(snapshot));
}

std::string written(const EngineMetricsSnapshot& snapshot) {
  std::string text;
  write_engine_metrics(snapshot, text);
  return text;
}

}  // namespace

TEST_CASE("engine_metrics_text: no shops yet", "[engine_metrics_text]") {
  EngineHost host(rules_from_yamls({kShopYaml, kOtherYaml}), {});
  const EngineMetricsSnapshot snapshot = snapshot_engine_metrics(host, kT0);
  CHECK(written(snapshot) == serialized(snapshot));
  CHECK(written(EngineMetricsSnapshot{}) == serialized(EngineMetricsSnapshot{}));
}

TEST_CASE("engine_metrics_text: the same bytes as TextSerializer", "[engine_metrics_text]") {
  EngineHost host(rules_from_yamls({kShopYaml, kOtherYaml}), {});
  // Label values that need escaping, fractional seconds, answered, breached, warned and open
  // rounds, agents on and off line, a duplicate and a late event.
  const std::string odd_shop = "shop \"quoted\" \\ back\nslash";
  host.offer(status("s1", "shop-a", "agent-1", true, kT0, "shop"));
  host.offer(buyer("b1", "shop-a", "c1", kT0, "shop"));
  host.offer(agent_msg("a1", "shop-a", "c1", kT0 + ms(30'123), "shop"));
  host.offer(buyer("b2", odd_shop, "c2", kT0 + sec(10), "shop"));
  host.offer(agent_msg("a2", odd_shop, "c2", kT0 + mins(5) + ms(7), "shop"));
  host.offer(buyer("b3", "shop-a", "c3", kT0 + mins(8), "shop"));
  host.offer(buyer("b3", "shop-a", "c3", kT0 + mins(8), "shop"));
  host.offer(buyer("o1", "other-1", "c4", kT0 + ms(1'001), "other"));
  host.offer(agent_msg("o2", "other-1", "c4", kT0 + ms(9'999), "other"));
  host.offer(status("s2", "shop-a", "agent-1", false, kT0 + mins(6), "shop"));
  host.engine().advance(kT0 + mins(10) + ms(333));
  host.offer(closed("late", "shop-a", "c1", kT0 + mins(2), "shop"));
  const Instant at = host.engine().watermark() + ms(17);
  const EngineMetricsSnapshot snapshot = snapshot_engine_metrics(host, at);
  REQUIRE(snapshot.series.size() == 4 + 4 + 1);
  const std::string text = written(snapshot);
  CHECK(text == serialized(snapshot));
  CHECK_THAT(text, Catch::Contains(R"(shop="shop \"quoted\" \\ back\nslash")"));
}

TEST_CASE("engine_metrics_text: numbers spelled as TextSerializer spells them",
          "[engine_metrics_text]") {
  // Whole numbers take a faster path than fractions; at and past 10^15, negative, -0, NaN and
  // infinities, it must still write what the double's 16 significant digits write.
  const std::vector<double> values = {0.0,
                                      -0.0,
                                      1.0,
                                      -3.0,
                                      0.1,
                                      2.5e-7,
                                      123456789012345.0,
                                      999999999999999.0,
                                      1e15,
                                      -1e15,
                                      1e16,
                                      12345678901234567.0,
                                      9.007199254740993e15,
                                      1e300,
                                      -1e-300,
                                      std::numeric_limits<double>::quiet_NaN(),
                                      std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity()};
  EngineMetricsSnapshot snapshot;
  snapshot.platforms.push_back(EngineMetricsSnapshot::Platform{"p\"q", {}, {{"s", 0.5}}, true});
  snapshot.bounds.push_back({0.5, 1.0, 1e15, 1e16, 30.25});
  for (std::size_t i = 0; i < values.size(); ++i) {
    replywatch::SlaFigures figures;
    figures.platform = "p\"q";
    figures.shop = "shop\n" + std::to_string(i / 2);
    figures.sla = i % 2 == 0 ? "s" : "x\\y";
    figures.kind = replywatch::SlaKind::kAverageResponse;
    figures.understaffed_seconds = values[i];
    figures.compliance_ratio = -values[i];
    figures.average_response_seconds = values[i] / 3;
    figures.error_budget_remaining_rounds = -static_cast<std::int64_t>(i);
    figures.agents_online = static_cast<std::uint32_t>(i);
    snapshot.series.push_back(figures);
    EngineMetricsSnapshot::Histogram histogram;
    histogram.observed = i % 3 != 0;
    histogram.first_count = static_cast<std::uint32_t>(snapshot.bucket_counts.size());
    for (std::uint64_t b = 0; b < 5; ++b) snapshot.bucket_counts.push_back(i * b);
    histogram.sum = values[i];
    histogram.count = histogram.observed ? 10 * i : 0;
    snapshot.histograms.push_back(histogram);
  }
  const std::string text = written(snapshot);
  CHECK(text == serialized(snapshot));
  CHECK_THAT(text, Catch::Contains("1e+16"));
  CHECK_THAT(text, Catch::Contains(" -0\n"));
}

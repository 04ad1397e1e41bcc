// The engine-derived metrics of docs/metrics.md: names, types, labels, and values equal to the
// engine's own figures, checked both as families and as the Prometheus text a scrape returns.
#include "engine_metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine_host.h"
#include "engine_test_support.h"

using namespace rwtest;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using replywatch::SlaFigures;
using replywatch::SlaKind;
using replywatch::server::collect_engine_metrics;
using replywatch::server::EngineHost;

namespace {

constexpr const char* kTmallYaml = R"(
platform: tmall
timezone: Asia/Shanghai
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 60s
    objective: 0.9
  - name: reply_10m
    kind: reply_time
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

// Service hours 09:00-23:00 Shanghai: 2026-11-22T15:00:00Z is 23:00 local, just closed.
constexpr const char* kJdYaml = R"(
platform: jd
timezone: Asia/Shanghai
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "23:00"
slas:
  - name: quick_7s
    kind: reply_time
    deadline: 7s
    objective: 0.5
)";

const Instant kT0 = Instant(Duration(1795357800000));  // 2026-11-22T14:30:00Z

using Labels = std::map<std::string, std::string>;

Labels labels_of(const ClientMetric& metric) {
  Labels out;
  for (const auto& label : metric.label) out[label.name] = label.value;
  return out;
}

const MetricFamily& family(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& f : families) {
    if (f.name == name) return f;
  }
  FAIL("no family " << name);
  throw std::logic_error("unreachable");
}

const ClientMetric* find_metric(const MetricFamily& f, const Labels& labels) {
  const ClientMetric* found = nullptr;
  for (const ClientMetric& metric : f.metric) {
    if (labels_of(metric) == labels) {
      REQUIRE(found == nullptr);  // one series per label set
      found = &metric;
    }
  }
  return found;
}

// The value of a counter or gauge series; fails when it does not exist.
double value(const std::vector<MetricFamily>& families, const std::string& name,
             const Labels& labels) {
  const MetricFamily& f = family(families, name);
  const ClientMetric* metric = find_metric(f, labels);
  INFO(name);
  for (const auto& [k, v] : labels) UNSCOPED_INFO(k << "=" << v);
  REQUIRE(metric != nullptr);
  return f.type == MetricType::Counter ? metric->counter.value : metric->gauge.value;
}

Labels sla_labels(const SlaFigures& f) {
  return {{"platform", f.platform}, {"shop", f.shop}, {"sla", f.sla}};
}

std::string serialize(const std::vector<MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

// Every series name at the start of a sample line of the text.
std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return out;
}

struct Expected {
  const char* name;
  MetricType type;
  std::set<std::string> labels;
};

const std::vector<Expected> kSpecFamilies = {
    {"replywatch_events_received_total", MetricType::Counter, {"platform", "type"}},
    {"replywatch_events_duplicate_total", MetricType::Counter, {"platform"}},
    {"replywatch_events_late_total", MetricType::Counter, {"platform"}},
    {"replywatch_sla_rounds_total", MetricType::Counter, {"platform", "shop", "sla"}},
    {"replywatch_sla_breaches_total", MetricType::Counter, {"platform", "shop", "sla"}},
    {"replywatch_sla_warnings_total", MetricType::Counter, {"platform", "shop", "sla"}},
    {"replywatch_understaffed_seconds_total", MetricType::Counter, {"platform", "shop", "sla"}},
    {"replywatch_response_seconds", MetricType::Histogram, {"platform", "shop", "sla"}},
    {"replywatch_rounds_open", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_rounds_at_risk", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_oldest_open_round_start_timestamp_seconds",
     MetricType::Gauge,
     {"platform", "shop", "sla"}},
    {"replywatch_sla_window_rounds", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_sla_compliance_ratio", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_sla_objective_ratio", MetricType::Gauge, {"platform", "sla"}},
    {"replywatch_sla_error_budget_remaining_rounds",
     MetricType::Gauge,
     {"platform", "shop", "sla"}},
    {"replywatch_average_response_seconds", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_sla_violating", MetricType::Gauge, {"platform", "shop", "sla"}},
    {"replywatch_agents_online", MetricType::Gauge, {"platform", "shop"}},
    {"replywatch_service_open", MetricType::Gauge, {"platform"}},
};

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
    default:
      return "other";
  }
}

// A host with some history: rounds met, breached, warned and open, an agent online then off.
struct Scenario {
  Scenario() : host(rules_from_yamls({kTmallYaml, kJdYaml}), {}) {
    host.offer(status("evt-status-1", "shop-a", "agent-007", true, kT0));
    host.offer(buyer("evt-b1", "shop-a", "conv-secret-1", kT0));
    host.offer(agent_msg("evt-a1", "shop-a", "conv-secret-1", kT0 + sec(30)));
    host.offer(buyer("evt-b2", "shop-a", "conv-secret-2", kT0 + sec(10)));  // breached at 3m
    host.offer(agent_msg("evt-a2", "shop-a", "conv-secret-2", kT0 + mins(5)));
    host.offer(buyer("evt-b3", "shop-a", "conv-secret-3", kT0 + mins(8)));  // open, at risk
    host.offer(buyer("evt-b4", "shop-b", "conv-secret-4", kT0 + mins(9)));  // open
    host.offer(status("evt-status-2", "shop-a", "agent-007", false, kT0 + mins(6)));
    host.offer(buyer("evt-b4", "shop-b", "conv-secret-4", kT0 + mins(9)));  // duplicate
    host.offer(buyer("evt-j1", "shop-j", "conv-secret-j", kT0 + mins(1), "jd"));
    host.engine().advance(kT0 + mins(10) + sec(30));
    host.offer(closed("evt-late", "shop-a", "conv-secret-1", kT0 + mins(2)));  // late
    at = host.engine().watermark();
  }
  EngineHost host;
  Instant at;
};

}  // namespace

TEST_CASE(
    "engine_metrics: family names and types are those of docs/metrics.md, counters end in _total",
    "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  REQUIRE(families.size() == kSpecFamilies.size());
  const std::string text = serialize(families);
  const std::set<std::string> samples = sample_names(text);
  for (const Expected& expected : kSpecFamilies) {
    INFO(expected.name);
    const MetricFamily& f = family(families, expected.name);
    CHECK(f.type == expected.type);
    CHECK_FALSE(f.help.empty());
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + expected.name + " " +
                                     type_name(expected.type) + "\n"));
    REQUIRE_FALSE(f.metric.empty());
    for (const ClientMetric& metric : f.metric) {
      std::set<std::string> names;
      for (const auto& label : metric.label) names.insert(label.name);
      CHECK(names == expected.labels);
    }
    if (expected.type == MetricType::Histogram) {
      CHECK(samples.count(std::string(expected.name) + "_bucket") == 1);
      CHECK(samples.count(std::string(expected.name) + "_sum") == 1);
      CHECK(samples.count(std::string(expected.name) + "_count") == 1);
    } else {
      // The sample lines carry exactly the name: no suffix added or missing.
      CHECK(samples.count(expected.name) == 1);
    }
  }
  // Exactly these series names and no others.
  CHECK(samples.size() == kSpecFamilies.size() + 2);
  CHECK(text.find("_total_total") == std::string::npos);
  for (const std::string& name : samples) {
    INFO(name);
    CHECK_THAT(name, Catch::StartsWith("replywatch_"));
  }
}

TEST_CASE("engine_metrics: every series of a shop exists at zero after its first event",
          "[engine_metrics]") {
  EngineHost host(rules_from_yamls({kTmallYaml, kJdYaml}), {});
  // Before any event, only the per-platform families have series.
  {
    const auto families = collect_engine_metrics(host, kT0);
    CHECK(family(families, "replywatch_sla_rounds_total").metric.empty());
    CHECK(family(families, "replywatch_agents_online").metric.empty());
    CHECK(family(families, "replywatch_events_received_total").metric.size() == 2 * 5);
  }
  host.offer(closed("x1", "s1", "c1", kT0));
  host.engine().advance(kT0 + sec(1));
  const auto families = collect_engine_metrics(host, kT0 + sec(1));
  for (const char* sla : {"reply_3m", "reply_10m", "avg_40s", "agent_online"}) {
    INFO(sla);
    const Labels labels{{"platform", "tmall"}, {"shop", "s1"}, {"sla", sla}};
    for (const char* name :
         {"replywatch_sla_rounds_total", "replywatch_sla_breaches_total",
          "replywatch_sla_warnings_total", "replywatch_understaffed_seconds_total",
          "replywatch_rounds_open", "replywatch_rounds_at_risk",
          "replywatch_oldest_open_round_start_timestamp_seconds", "replywatch_sla_window_rounds",
          "replywatch_average_response_seconds", "replywatch_sla_violating"}) {
      INFO(name);
      if (std::string(sla) == "agent_online" &&
          std::string(name) == "replywatch_understaffed_seconds_total") {
        // Nobody is online: the shortfall runs from the shop's first event.
        CHECK(value(families, name, labels) == 1.0);
      } else {
        CHECK(value(families, name, labels) == 0.0);
      }
    }
    // With no decided round a reply_time SLA is compliant; other kinds report 0.
    CHECK(value(families, "replywatch_sla_compliance_ratio", labels) ==
          (std::string(sla).starts_with("reply") ? 1.0 : 0.0));
    const ClientMetric* histogram =
        find_metric(family(families, "replywatch_response_seconds"), labels);
    if (std::string(sla) == "agent_online") {
      CHECK(histogram == nullptr);  // presence has no response times
    } else {
      REQUIRE(histogram != nullptr);
      CHECK(histogram->histogram.sample_count == 0);
      CHECK(histogram->histogram.sample_sum == 0.0);
      for (const auto& bucket : histogram->histogram.bucket) CHECK(bucket.cumulative_count == 0);
    }
  }
  CHECK(value(families, "replywatch_sla_error_budget_remaining_rounds",
              {{"platform", "tmall"}, {"shop", "s1"}, {"sla", "reply_3m"}}) == 0.0);
  CHECK(value(families, "replywatch_agents_online", {{"platform", "tmall"}, {"shop", "s1"}}) ==
        0.0);
  // The jd platform has no shop yet: no per-shop series for it.
  for (const ClientMetric& metric : family(families, "replywatch_sla_rounds_total").metric) {
    CHECK(labels_of(metric).at("platform") == "tmall");
  }
}

TEST_CASE("engine_metrics: values are the engine's figures at the same instant",
          "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  const std::vector<SlaFigures> figures = s.host.engine().figures(s.at);
  REQUIRE(figures.size() == 4 * 2 + 1);  // tmall shop-a, shop-b; jd shop-j

  std::uint64_t breaches = 0, warnings = 0, open = 0, at_risk = 0;
  for (const SlaFigures& f : figures) {
    INFO(f.platform << "/" << f.shop << "/" << f.sla);
    const Labels labels = sla_labels(f);
    CHECK(value(families, "replywatch_sla_rounds_total", labels) == static_cast<double>(f.rounds));
    CHECK(value(families, "replywatch_sla_breaches_total", labels) ==
          static_cast<double>(f.breaches));
    CHECK(value(families, "replywatch_sla_warnings_total", labels) ==
          static_cast<double>(f.warnings));
    CHECK(value(families, "replywatch_understaffed_seconds_total", labels) ==
          f.understaffed_seconds);
    CHECK(value(families, "replywatch_rounds_open", labels) == static_cast<double>(f.open_rounds));
    CHECK(value(families, "replywatch_rounds_at_risk", labels) ==
          static_cast<double>(f.at_risk_rounds));
    CHECK(value(families, "replywatch_oldest_open_round_start_timestamp_seconds", labels) ==
          (f.oldest_open_start ? replywatch::to_seconds(f.oldest_open_start->time_since_epoch())
                               : 0.0));
    CHECK(value(families, "replywatch_sla_window_rounds", labels) ==
          static_cast<double>(f.window_rounds));
    CHECK(value(families, "replywatch_sla_compliance_ratio", labels) == f.compliance_ratio);
    CHECK(value(families, "replywatch_average_response_seconds", labels) ==
          f.average_response_seconds);
    CHECK(value(families, "replywatch_sla_violating", labels) == (f.violating ? 1.0 : 0.0));
    const ClientMetric* budget =
        find_metric(family(families, "replywatch_sla_error_budget_remaining_rounds"), labels);
    if (f.error_budget_remaining_rounds) {
      REQUIRE(budget != nullptr);
      CHECK(budget->gauge.value == static_cast<double>(*f.error_budget_remaining_rounds));
    } else {
      CHECK(budget == nullptr);  // only SLAs with an objective have a budget
    }
    CHECK(
        value(families, "replywatch_agents_online", {{"platform", f.platform}, {"shop", f.shop}}) ==
        static_cast<double>(f.agents_online));
    breaches += f.breaches;
    warnings += f.warnings;
    open += f.open_rounds;
    at_risk += f.at_risk_rounds;
  }
  // The scenario exercised what it meant to.
  CHECK(breaches > 0);
  CHECK(warnings > 0);
  CHECK(open > 0);
  CHECK(at_risk > 0);
  const auto find = [&](std::string_view shop, std::string_view sla) {
    for (const SlaFigures& f : figures) {
      if (f.shop == shop && f.sla == sla) return f;
    }
    FAIL("missing");
    return SlaFigures{};
  };
  CHECK(find("shop-a", "reply_3m").rounds == 2);
  CHECK(find("shop-a", "reply_3m").breaches == 1);
  CHECK(find("shop-a", "agent_online").understaffed_seconds > 0.0);
  CHECK(find("shop-a", "agent_online").breaches == 1);

  // Budgets: exactly the (shop, SLA) pairs whose SLA has an objective.
  std::set<std::string> budget_series;
  for (const ClientMetric& metric :
       family(families, "replywatch_sla_error_budget_remaining_rounds").metric) {
    const Labels l = labels_of(metric);
    budget_series.insert(l.at("platform") + "/" + l.at("shop") + "/" + l.at("sla"));
  }
  CHECK(budget_series == std::set<std::string>{"jd/shop-j/quick_7s", "tmall/shop-a/reply_3m",
                                               "tmall/shop-b/reply_3m"});
}

TEST_CASE("engine_metrics: objective ratio per platform and SLA, only where set",
          "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  const MetricFamily& f = family(families, "replywatch_sla_objective_ratio");
  REQUIRE(f.metric.size() == 2);
  CHECK(value(families, "replywatch_sla_objective_ratio",
              {{"platform", "tmall"}, {"sla", "reply_3m"}}) == 0.9);
  CHECK(value(families, "replywatch_sla_objective_ratio",
              {{"platform", "jd"}, {"sla", "quick_7s"}}) == 0.5);
}

TEST_CASE("engine_metrics: event counters per platform and type, zeros included",
          "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  CHECK(family(families, "replywatch_events_received_total").metric.size() == 2 * 5);
  auto received = [&](const char* platform, const char* type) {
    return value(families, "replywatch_events_received_total",
                 {{"platform", platform}, {"type", type}});
  };
  CHECK(received("tmall", "buyer_message") == 5.0);  // the duplicate included
  CHECK(received("tmall", "agent_message") == 2.0);
  CHECK(received("tmall", "bot_message") == 0.0);
  CHECK(received("tmall", "conversation_closed") == 1.0);
  CHECK(received("tmall", "agent_status") == 2.0);
  CHECK(received("jd", "buyer_message") == 1.0);
  CHECK(received("jd", "agent_status") == 0.0);
  CHECK(value(families, "replywatch_events_duplicate_total", {{"platform", "tmall"}}) == 1.0);
  CHECK(value(families, "replywatch_events_duplicate_total", {{"platform", "jd"}}) == 0.0);
  CHECK(value(families, "replywatch_events_late_total", {{"platform", "tmall"}}) == 1.0);
  CHECK(value(families, "replywatch_events_late_total", {{"platform", "jd"}}) == 0.0);
}

TEST_CASE("engine_metrics: the histogram has a bucket for every bound and +Inf",
          "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  const MetricFamily& f = family(families, "replywatch_response_seconds");
  // Each series has its own SLA's bounds.
  const auto bounds_of = [&](const Labels& labels) {
    for (const auto& figures : s.host.engine().figures(s.at)) {
      if (figures.platform == labels.at("platform") && figures.shop == labels.at("shop") &&
          figures.sla == labels.at("sla")) {
        return s.host.bucket_bounds(figures.ref);
      }
    }
    FAIL("no SLA for the series");
    return std::vector<double>{};
  };
  // reply_time and average_response series only: 3 per tmall shop, 1 for jd.
  CHECK(f.metric.size() == 3 * 2 + 1);
  for (const ClientMetric& metric : f.metric) {
    const Labels labels = labels_of(metric);
    INFO(labels.at("shop") << "/" << labels.at("sla"));
    const std::vector<double> bounds = bounds_of(labels);
    const double threshold = labels.at("sla") == "reply_3m"    ? 180.0
                             : labels.at("sla") == "reply_10m" ? 600.0
                             : labels.at("sla") == "avg_40s"   ? 40.0
                                                               : 7.0;
    CHECK(std::find(bounds.begin(), bounds.end(), threshold) != bounds.end());
    CHECK(bounds.size() <= 7);
    const auto& buckets = metric.histogram.bucket;
    REQUIRE(buckets.size() == bounds.size() + 1);
    for (std::size_t i = 0; i < bounds.size(); ++i) CHECK(buckets[i].upper_bound == bounds[i]);
    CHECK(std::isinf(buckets.back().upper_bound));
    CHECK(buckets.back().cumulative_count == metric.histogram.sample_count);
    for (std::size_t i = 1; i < buckets.size(); ++i) {
      CHECK(buckets[i - 1].cumulative_count <= buckets[i].cumulative_count);
    }
  }
  // shop-a reply_3m: answered after 30 s and breached (observed at 180 s).
  const ClientMetric* reply =
      find_metric(f, {{"platform", "tmall"}, {"shop", "shop-a"}, {"sla", "reply_3m"}});
  REQUIRE(reply != nullptr);
  CHECK(reply->histogram.sample_count == 2);
  CHECK(reply->histogram.sample_sum == Approx(30.0 + 180.0));
  const auto cumulative_at = [&](double bound) {
    for (const auto& bucket : reply->histogram.bucket) {
      if (bucket.upper_bound == bound) return bucket.cumulative_count;
    }
    FAIL("no bucket " << bound);
    return std::uint64_t{0};
  };
  CHECK(cumulative_at(45.0) == 1);
  CHECK(cumulative_at(120.0) == 1);
  CHECK(cumulative_at(180.0) == 2);  // le: a value equal to the bound is in its bucket

  const std::string text = serialize(families);
  CHECK_THAT(
      text,
      Catch::Contains(
          R"(replywatch_response_seconds_bucket{platform="tmall",shop="shop-a",sla="reply_3m",le="+Inf"} 2)"));
  CHECK_THAT(
      text,
      Catch::Contains(
          R"(replywatch_response_seconds_count{platform="tmall",shop="shop-a",sla="reply_3m"} 2)"));
  // One bucket line per bound and +Inf for each of the 7 series.
  std::size_t expected_lines = 0;
  for (const ClientMetric& metric : f.metric) expected_lines += metric.histogram.bucket.size();
  std::size_t bucket_lines = 0;
  for (std::size_t at = text.find("replywatch_response_seconds_bucket{"); at != std::string::npos;
       at = text.find("replywatch_response_seconds_bucket{", at + 1)) {
    ++bucket_lines;
  }
  CHECK(bucket_lines == expected_lines);
  CHECK(expected_lines <= 7 * 8);  // at most 7 bounds and +Inf a series
}

TEST_CASE("engine_metrics: service hours open is 1 without service hours", "[engine_metrics]") {
  EngineHost host(rules_from_yamls({kTmallYaml, kJdYaml}), {});
  // jd closes at 23:00 Shanghai = 15:00Z; tmall has no service hours at all.
  const Instant open_time = T("2026-11-22T14:59:59.999Z");
  const Instant closed_time = T("2026-11-22T15:00:00Z");
  const auto open = collect_engine_metrics(host, open_time);
  CHECK(value(open, "replywatch_service_open", {{"platform", "tmall"}}) == 1.0);
  CHECK(value(open, "replywatch_service_open", {{"platform", "jd"}}) == 1.0);
  const auto closed_at = collect_engine_metrics(host, closed_time);
  CHECK(value(closed_at, "replywatch_service_open", {{"platform", "tmall"}}) == 1.0);
  CHECK(value(closed_at, "replywatch_service_open", {{"platform", "jd"}}) == 0.0);
  const auto night = collect_engine_metrics(host, T("2026-11-22T20:00:00Z"));  // 04:00 local
  CHECK(value(night, "replywatch_service_open", {{"platform", "tmall"}}) == 1.0);
  CHECK(value(night, "replywatch_service_open", {{"platform", "jd"}}) == 0.0);
}

TEST_CASE("engine_metrics: no label value is a conversation, agent or event id",
          "[engine_metrics]") {
  Scenario s;
  const auto families = collect_engine_metrics(s.host, s.at);
  const std::set<std::string> private_values = {
      "conv-secret-1", "conv-secret-2", "conv-secret-3", "conv-secret-4",
      "conv-secret-j", "evt-status-1",  "evt-status-2",  "evt-b1",
      "evt-b2",        "evt-b3",        "evt-b4",        "evt-a1",
      "evt-a2",        "evt-j1",        "evt-late",      "agent-007"};
  std::set<std::string> label_values;
  for (const MetricFamily& f : families) {
    for (const ClientMetric& metric : f.metric) {
      for (const auto& label : metric.label) label_values.insert(label.value);
    }
  }
  for (const std::string& value : label_values) {
    INFO(value);
    CHECK(private_values.count(value) == 0);
  }
  // Only platforms, shops, SLA names and event types are label values.
  CHECK(label_values.count("shop-a") == 1);
  const std::string text = serialize(families);
  CHECK(text.find("conv-secret") == std::string::npos);
  CHECK(text.find("evt-") == std::string::npos);
  CHECK(text.find("agent-007") == std::string::npos);
}

namespace {

std::string written(const replywatch::server::EngineMetricsSnapshot& snapshot) {
  std::string text;
  replywatch::server::write_engine_metrics(snapshot, text);
  return text;
}

}  // namespace

TEST_CASE("engine_metrics: a snapshot copied in slices is the one copied whole",
          "[engine_metrics]") {
  using replywatch::server::EngineMetricsCopier;
  using replywatch::server::snapshot_engine_metrics;
  Scenario s;
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    s.host.offer(buyer("evt-more-t" + n, "shop-m" + n, "c" + n, s.at + sec(1), "tmall"));
    s.host.offer(buyer("evt-more-j" + n, "shop-m" + n, "c" + n, s.at + sec(1), "jd"));
  }
  s.host.engine().advance(s.at + mins(1));
  const Instant at = s.host.engine().watermark();
  const auto whole = snapshot_engine_metrics(s.host, at);
  REQUIRE(whole.series.size() == 4 * 7 + 1 * 6);  // tmall: 7 shops x 4 SLAs; jd: 6 x 1

  for (const std::size_t per_step :
       {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{5}, std::size_t{1000}}) {
    INFO("series per step " << per_step);
    EngineMetricsCopier copier(s.host, at);
    std::size_t steps = 1;
    while (!copier.step(s.host, at, per_step)) ++steps;
    CHECK(copier.done());
    CHECK(copier.step(s.host, at, per_step));  // nothing more once done
    const auto& sliced = copier.snapshot();
    CHECK(sliced.series.size() == whole.series.size());
    CHECK(sliced.histograms.size() == sliced.series.size());
    CHECK(written(sliced) == written(whole));
    // Whole shops per step, at least one: 13 shops in all.
    if (per_step == 1) CHECK(steps == 13);
    // 4 of jd's 6 shops (1 SLA each), 2 more and a tmall shop (4 SLAs), then 6 tmall shops.
    if (per_step == 4) CHECK(steps == 8);
    if (per_step == 1000) CHECK(steps == 1);
  }
}

TEST_CASE("engine_metrics: a shop first seen between slices is copied if it sorts after them",
          "[engine_metrics]") {
  using replywatch::server::EngineMetricsCopier;
  EngineHost host(rules_from_yamls({kTmallYaml}), {});
  host.offer(buyer("b1", "shop-b", "c1", kT0));
  host.offer(buyer("d1", "shop-d", "c1", kT0));
  host.engine().advance(kT0 + sec(1));
  EngineMetricsCopier copier(host, host.engine().watermark());
  REQUIRE_FALSE(copier.step(host, host.engine().watermark(), 1));  // shop-b
  host.offer(buyer("a1", "shop-a", "c1", kT0 + sec(2)));  // before the slice taken: next scrape
  host.offer(buyer("c1", "shop-c", "c1", kT0 + sec(2)));  // after it: this one
  host.offer(agent_msg("b2", "shop-b", "c1", kT0 + sec(3)));
  host.engine().advance(kT0 + sec(4));
  while (!copier.step(host, host.engine().watermark(), 1)) {
  }
  std::vector<std::string> shops;
  for (const SlaFigures& f : copier.snapshot().series) {
    if (shops.empty() || shops.back() != f.shop) shops.push_back(f.shop);
  }
  CHECK(shops == std::vector<std::string>{"shop-b", "shop-c", "shop-d"});
  CHECK(copier.snapshot().series.size() == 3 * 4);
  CHECK(copier.snapshot().histograms.size() == 3 * 4);
  // shop-b was copied before its reply: one open round, none decided.
  const auto& series = copier.snapshot().series;
  const auto reply_3m = std::find_if(series.begin(), series.end(), [](const SlaFigures& f) {
    return f.shop == "shop-b" && f.sla == "reply_3m";
  });
  REQUIRE(reply_3m != series.end());
  CHECK(reply_3m->open_rounds == 1);
  CHECK(reply_3m->rounds == 0);
}

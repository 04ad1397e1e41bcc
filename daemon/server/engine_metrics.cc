#include "engine_metrics.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "replywatch/service_hours.h"

namespace replywatch::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric::Label label(const char* name, std::string value) {
  return ClientMetric::Label{name, std::move(value)};
}

void add(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

// The families of docs/metrics.md in the order they are listed there.
struct Families {
  MetricFamily received{"replywatch_events_received_total",
                        "Valid events received (accepted or duplicate), by platform and type.",
                        MetricType::Counter,
                        {}};
  MetricFamily duplicates{"replywatch_events_duplicate_total",
                          "Events acknowledged but not applied again: their id was seen.",
                          MetricType::Counter,
                          {}};
  MetricFamily late{"replywatch_events_late_total",
                    "Events older than the watermark: applied at once, never changing a decided "
                    "outcome.",
                    MetricType::Counter,
                    {}};
  MetricFamily rounds{"replywatch_sla_rounds_total",
                      "Rounds decided (answered or expired).",
                      MetricType::Counter,
                      {}};
  MetricFamily breaches{"replywatch_sla_breaches_total",
                        "reply_time rounds that missed their deadline; agent_presence incidents.",
                        MetricType::Counter,
                        {}};
  MetricFamily warnings{"replywatch_sla_warnings_total",
                        "reply_time rounds that reached their warning point unanswered.",
                        MetricType::Counter,
                        {}};
  MetricFamily understaffed{"replywatch_understaffed_seconds_total",
                            "Time in service hours with fewer agents online than min_online.",
                            MetricType::Counter,
                            {}};
  MetricFamily response{"replywatch_response_seconds",
                        "Response time of decided rounds on the round's clock; unanswered rounds "
                        "at their deadline or cost cap.",
                        MetricType::Histogram,
                        {}};
  MetricFamily open{
      "replywatch_rounds_open", "Scored rounds not yet decided.", MetricType::Gauge, {}};
  MetricFamily at_risk{"replywatch_rounds_at_risk",
                       "Open reply_time rounds past their warning point.",
                       MetricType::Gauge,
                       {}};
  MetricFamily oldest{"replywatch_oldest_open_round_start_timestamp_seconds",
                      "Start of the oldest open round; 0 when none is open.",
                      MetricType::Gauge,
                      {}};
  MetricFamily window_rounds{
      "replywatch_sla_window_rounds", "Rounds decided within the window.", MetricType::Gauge, {}};
  MetricFamily compliance{"replywatch_sla_compliance_ratio",
                          "Met / decided within the window (1 when none; 0 where not reply_time).",
                          MetricType::Gauge,
                          {}};
  MetricFamily objective{
      "replywatch_sla_objective_ratio", "The rule file's objective.", MetricType::Gauge, {}};
  MetricFamily budget{"replywatch_sla_error_budget_remaining_rounds",
                      "Breaches the window can still take before the objective is missed.",
                      MetricType::Gauge,
                      {}};
  MetricFamily average{"replywatch_average_response_seconds",
                       "Average response within the window, unanswered rounds at their cost.",
                       MetricType::Gauge,
                       {}};
  MetricFamily violating{
      "replywatch_sla_violating", "1 while the SLA is violated.", MetricType::Gauge, {}};
  MetricFamily agents{"replywatch_agents_online", "Agents online per shop.", MetricType::Gauge, {}};
  MetricFamily service_open{"replywatch_service_open",
                            "1 while the platform's service hours are open (always 1 without "
                            "service hours).",
                            MetricType::Gauge,
                            {}};
};

ClientMetric histogram_metric(std::vector<ClientMetric::Label> labels,
                              const EngineMetricsSnapshot& snapshot,
                              const EngineMetricsSnapshot::Histogram& histogram) {
  ClientMetric metric;
  metric.label = std::move(labels);
  const std::vector<double>& bounds = snapshot.bounds[histogram.bounds];
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (histogram.observed) cumulative += snapshot.bucket_counts[histogram.first_count + i];
    metric.histogram.bucket.push_back(ClientMetric::Bucket{cumulative, bounds[i]});
  }
  metric.histogram.bucket.push_back(
      ClientMetric::Bucket{histogram.count, std::numeric_limits<double>::infinity()});
  metric.histogram.sample_count = histogram.count;
  metric.histogram.sample_sum = histogram.sum;
  return metric;
}

}  // namespace

EngineMetricsCopier::EngineMetricsCopier(const EngineHost& host, Instant at) {
  const RuleSet& rules = host.rules();
  bounds_index_.resize(rules.platforms.size());
  for (std::uint32_t p = 0; p < rules.platforms.size(); ++p) {
    const PlatformRules& platform = rules.platforms[p];
    EngineMetricsSnapshot::Platform& out = snapshot_.platforms.emplace_back();
    out.name = platform.platform;
    out.counts = host.platform_counts(p);
    for (std::uint32_t s = 0; s < platform.slas.size(); ++s) {
      const Sla& sla = platform.slas[s];
      if (sla.objective) out.objectives.emplace_back(sla.name, *sla.objective);
      bounds_index_[p].push_back(static_cast<std::uint32_t>(snapshot_.bounds.size()));
      snapshot_.bounds.push_back(host.bucket_bounds(SlaRef{p, 0, s}));
    }
    // A platform without service hours is always open.
    if (platform.service_hours) {
      out.service_open = ServiceHours(&*platform.service_hours, platform.timezone).is_open(at);
    }
  }
  // Room for every series now: growing these vectors half-way would move everything taken so
  // far, and fault in the new memory, within one slice (a first scrape's longest slices were
  // those).
  std::size_t most_slas = 0;
  std::size_t most_bounds = 0;
  for (const PlatformRules& platform : rules.platforms) {
    most_slas = std::max(most_slas, platform.slas.size());
  }
  for (const std::vector<double>& bounds : snapshot_.bounds) {
    most_bounds = std::max(most_bounds, bounds.size());
  }
  const std::size_t series = host.engine().shop_count() * most_slas;
  const std::size_t room = series + series / 8;  // and shops that come during the copy
  snapshot_.series.reserve(room);
  snapshot_.histograms.reserve(room);
  snapshot_.bucket_counts.reserve(room * most_bounds);
}

bool EngineMetricsCopier::step(const EngineHost& host, Instant at, std::size_t max_series) {
  if (done_) return true;
  std::vector<SlaFigures>& series = snapshot_.series;
  const std::size_t first = series.size();
  const bool more = first == 0
                        ? host.engine().figures_after(at, {}, {}, max_series, series)
                        : host.engine().figures_after(at, series.back().platform,
                                                      series.back().shop, max_series, series);
  for (std::size_t i = first; i < series.size(); ++i) {
    const SlaFigures& figures = series[i];
    EngineMetricsSnapshot::Histogram histogram;
    histogram.bounds = bounds_index_[figures.ref.platform][figures.ref.sla];
    if (const ResponseHistogram* observed = host.histogram(figures.ref)) {
      histogram.observed = true;
      histogram.first_count = static_cast<std::uint32_t>(snapshot_.bucket_counts.size());
      snapshot_.bucket_counts.insert(snapshot_.bucket_counts.end(), observed->bucket_counts.begin(),
                                     observed->bucket_counts.end());
      histogram.sum = observed->sum;
      histogram.count = observed->count;
    }
    snapshot_.histograms.push_back(histogram);
  }
  done_ = !more;
  return done_;
}

EngineMetricsSnapshot snapshot_engine_metrics(const EngineHost& host, Instant at) {
  EngineMetricsCopier copier(host, at);
  while (!copier.step(host, at, std::numeric_limits<std::size_t>::max() / 2)) {
  }
  return std::move(copier.snapshot());
}

std::vector<MetricFamily> collect_engine_metrics(const EngineHost& host, Instant at) {
  return engine_metric_families(snapshot_engine_metrics(host, at));
}

std::vector<MetricFamily> engine_metric_families(const EngineMetricsSnapshot& snapshot) {
  Families f;
  for (const EngineMetricsSnapshot::Platform& platform : snapshot.platforms) {
    for (int t = 0; t < kEventTypeCount; ++t) {
      add(f.received,
          {label("platform", platform.name),
           label("type", std::string(event_type_name(static_cast<EventType>(t))))},
          static_cast<double>(platform.counts.received[static_cast<std::size_t>(t)]));
    }
    add(f.duplicates, {label("platform", platform.name)},
        static_cast<double>(platform.counts.duplicates));
    add(f.late, {label("platform", platform.name)}, static_cast<double>(platform.counts.late));
    for (const auto& [sla, objective] : platform.objectives) {
      add(f.objective, {label("platform", platform.name), label("sla", sla)}, objective);
    }
    add(f.service_open, {label("platform", platform.name)}, platform.service_open ? 1.0 : 0.0);
  }

  const std::string* last_platform = nullptr;
  const std::string* last_shop = nullptr;
  for (std::size_t i = 0; i < snapshot.series.size(); ++i) {
    const SlaFigures& sla = snapshot.series[i];
    auto labels = [&] {
      return std::vector<ClientMetric::Label>{label("platform", sla.platform),
                                              label("shop", sla.shop), label("sla", sla.sla)};
    };
    if (last_platform == nullptr || *last_platform != sla.platform || *last_shop != sla.shop) {
      add(f.agents, {label("platform", sla.platform), label("shop", sla.shop)}, sla.agents_online);
      last_platform = &sla.platform;
      last_shop = &sla.shop;
    }
    add(f.rounds, labels(), static_cast<double>(sla.rounds));
    add(f.breaches, labels(), static_cast<double>(sla.breaches));
    add(f.warnings, labels(), static_cast<double>(sla.warnings));
    add(f.understaffed, labels(), sla.understaffed_seconds);
    if (sla.kind != SlaKind::kAgentPresence) {
      f.response.metric.push_back(histogram_metric(labels(), snapshot, snapshot.histograms[i]));
    }
    add(f.open, labels(), static_cast<double>(sla.open_rounds));
    add(f.at_risk, labels(), static_cast<double>(sla.at_risk_rounds));
    add(f.oldest, labels(),
        sla.oldest_open_start ? to_seconds(sla.oldest_open_start->time_since_epoch()) : 0.0);
    add(f.window_rounds, labels(), static_cast<double>(sla.window_rounds));
    add(f.compliance, labels(), sla.compliance_ratio);
    if (sla.error_budget_remaining_rounds) {
      add(f.budget, labels(), static_cast<double>(*sla.error_budget_remaining_rounds));
    }
    add(f.average, labels(), sla.average_response_seconds);
    add(f.violating, labels(), sla.violating ? 1.0 : 0.0);
  }

  std::vector<MetricFamily> out;
  for (MetricFamily* family :
       {&f.received, &f.duplicates, &f.late, &f.rounds, &f.breaches, &f.warnings, &f.understaffed,
        &f.response, &f.open, &f.at_risk, &f.oldest, &f.window_rounds, &f.compliance, &f.objective,
        &f.budget, &f.average, &f.violating, &f.agents, &f.service_open}) {
    out.push_back(std::move(*family));
  }
  return out;
}

}  // namespace replywatch::server

// The Prometheus text of an EngineMetricsSnapshot, written straight into one string: the same
// bytes as TextSerializer over engine_metric_families (a test compares them), without a
// ClientMetric and its label strings per sample, which made a 10 000-series scrape several
// times slower than writing it.
#include <prometheus/metric_family.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "engine_metrics.h"
#include "engine_metrics_snapshot.h"

namespace replywatch::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// Indices into engine_metric_families' answer.
enum Family : std::size_t {
  kReceived,
  kDuplicates,
  kLate,
  kRounds,
  kBreaches,
  kWarnings,
  kUnderstaffed,
  kResponse,
  kOpen,
  kAtRisk,
  kOldest,
  kWindowRounds,
  kCompliance,
  kObjective,
  kBudget,
  kAverage,
  kViolating,
  kAgents,
  kServiceOpen,
  kFamilyCount,
};

class TextWriter {
 public:
  explicit TextWriter(std::string& out) : out_(out) {}

  void header(const MetricFamily& family) {
    name_ = family.name;
    if (!family.help.empty()) {
      out_ += "# HELP ";
      out_ += family.name;
      out_ += ' ';
      out_ += family.help;
      out_ += '\n';
    }
    out_ += "# TYPE ";
    out_ += family.name;
    switch (family.type) {
      case MetricType::Counter:
        out_ += " counter\n";
        break;
      case MetricType::Histogram:
        out_ += " histogram\n";
        break;
      default:
        out_ += " gauge\n";
        break;
    }
  }

  // Starts a sample line: the family name, `suffix`, then labels added with label().
  void start(std::string_view suffix = {}) {
    out_ += name_;
    out_ += suffix;
    first_label_ = true;
  }
  void label(std::string_view name, std::string_view value) {
    out_ += first_label_ ? '{' : ',';
    first_label_ = false;
    out_ += name;
    out_ += "=\"";
    for (const char c : value) {
      if (c == '\n') {
        out_ += "\\n";
      } else {
        if (c == '\\' || c == '"') out_ += '\\';
        out_ += c;
      }
    }
    out_ += '"';
  }
  void le(double bound) {
    out_ += first_label_ ? '{' : ',';
    first_label_ = false;
    out_ += "le=\"";
    number(bound);
    out_ += '"';
  }
  void value(double value) {
    close_labels();
    number(value);
    out_ += '\n';
  }
  void count(std::uint64_t value) {
    close_labels();
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    out_.append(buffer, end);
    out_ += '\n';
  }

  // A whole sample labelled (platform, shop, SLA).
  void series(const SlaFigures& figures, double sample) {
    start();
    series_labels(figures);
    value(sample);
  }
  void series_labels(const SlaFigures& figures) {
    label("platform", figures.platform);
    label("shop", figures.shop);
    label("sla", figures.sla);
  }

 private:
  void close_labels() {
    if (!first_label_) out_ += '}';
    out_ += ' ';
  }

  // As prometheus-cpp writes a double: 16 significant digits, Nan and +/-Inf spelled out.
  void number(double value) {
    if (std::isnan(value)) {
      out_ += "Nan";
    } else if (std::isinf(value)) {
      out_ += value < 0 ? "-Inf" : "+Inf";
    } else {
      char buffer[32];
      const auto end =
          std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general,
                        std::numeric_limits<double>::max_digits10 - 1)
              .ptr;
      out_.append(buffer, end);
    }
  }

  std::string& out_;
  std::string name_;
  bool first_label_ = true;
};

void write_histograms(TextWriter& w, const EngineMetricsSnapshot& snapshot) {
  for (std::size_t i = 0; i < snapshot.series.size(); ++i) {
    const SlaFigures& figures = snapshot.series[i];
    if (figures.kind == SlaKind::kAgentPresence) continue;
    const EngineMetricsSnapshot::Histogram& histogram = snapshot.histograms[i];
    w.start("_count");
    w.series_labels(figures);
    w.count(histogram.count);
    w.start("_sum");
    w.series_labels(figures);
    w.value(histogram.sum);
    const std::vector<double>& bounds = snapshot.bounds[histogram.bounds];
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < bounds.size(); ++b) {
      if (histogram.observed) cumulative += snapshot.bucket_counts[histogram.first_count + b];
      w.start("_bucket");
      w.series_labels(figures);
      w.le(bounds[b]);
      w.count(cumulative);
    }
    w.start("_bucket");
    w.series_labels(figures);
    w.le(std::numeric_limits<double>::infinity());
    w.count(histogram.count);
  }
}

}  // namespace

void write_engine_metrics(const EngineMetricsSnapshot& snapshot, std::string& out) {
  static const std::vector<MetricFamily> heads = engine_metric_families(EngineMetricsSnapshot{});
  TextWriter w(out);
  const auto& platforms = snapshot.platforms;
  const auto& series = snapshot.series;
  auto each_series = [&](Family family, auto sample) {
    w.header(heads[family]);
    for (const SlaFigures& figures : series) sample(figures);
  };

  w.header(heads[kReceived]);
  for (const auto& platform : platforms) {
    for (int t = 0; t < kEventTypeCount; ++t) {
      w.start();
      w.label("platform", platform.name);
      w.label("type", event_type_name(static_cast<EventType>(t)));
      w.value(static_cast<double>(platform.counts.received[static_cast<std::size_t>(t)]));
    }
  }
  w.header(heads[kDuplicates]);
  for (const auto& platform : platforms) {
    w.start();
    w.label("platform", platform.name);
    w.value(static_cast<double>(platform.counts.duplicates));
  }
  w.header(heads[kLate]);
  for (const auto& platform : platforms) {
    w.start();
    w.label("platform", platform.name);
    w.value(static_cast<double>(platform.counts.late));
  }
  each_series(kRounds, [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.rounds)); });
  each_series(kBreaches,
              [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.breaches)); });
  each_series(kWarnings,
              [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.warnings)); });
  each_series(kUnderstaffed, [&](const SlaFigures& f) { w.series(f, f.understaffed_seconds); });
  w.header(heads[kResponse]);
  write_histograms(w, snapshot);
  each_series(kOpen, [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.open_rounds)); });
  each_series(kAtRisk,
              [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.at_risk_rounds)); });
  each_series(kOldest, [&](const SlaFigures& f) {
    w.series(f, f.oldest_open_start ? to_seconds(f.oldest_open_start->time_since_epoch()) : 0.0);
  });
  each_series(kWindowRounds,
              [&](const SlaFigures& f) { w.series(f, static_cast<double>(f.window_rounds)); });
  each_series(kCompliance, [&](const SlaFigures& f) { w.series(f, f.compliance_ratio); });
  w.header(heads[kObjective]);
  for (const auto& platform : platforms) {
    for (const auto& [sla, objective] : platform.objectives) {
      w.start();
      w.label("platform", platform.name);
      w.label("sla", sla);
      w.value(objective);
    }
  }
  each_series(kBudget, [&](const SlaFigures& f) {
    if (f.error_budget_remaining_rounds) {
      w.series(f, static_cast<double>(*f.error_budget_remaining_rounds));
    }
  });
  each_series(kAverage, [&](const SlaFigures& f) { w.series(f, f.average_response_seconds); });
  each_series(kViolating, [&](const SlaFigures& f) { w.series(f, f.violating ? 1.0 : 0.0); });
  w.header(heads[kAgents]);
  const SlaFigures* last = nullptr;
  for (const SlaFigures& f : series) {
    if (last != nullptr && last->platform == f.platform && last->shop == f.shop) continue;
    last = &f;
    w.start();
    w.label("platform", f.platform);
    w.label("shop", f.shop);
    w.value(f.agents_online);
  }
  w.header(heads[kServiceOpen]);
  for (const auto& platform : platforms) {
    w.start();
    w.label("platform", platform.name);
    w.value(platform.service_open ? 1.0 : 0.0);
  }
}

}  // namespace replywatch::server

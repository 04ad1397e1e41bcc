// The Prometheus text of an EngineMetricsSnapshot, written straight into one string: the same
// bytes as TextSerializer over engine_metric_families (a test compares them), without a
// ClientMetric and its label strings per sample, which made a 10 000-series scrape several
// times slower than writing it.
//
// A series' labels appear on 20-odd lines (a dozen families and its histogram's buckets), so
// each series' label text is escaped once (SeriesLabels) and copied whole onto its lines, and
// each bucket bound is formatted once per bound set; the string is reserved up front for the
// whole text, in huge pages where the kernel has them. Escaping the labels a character at a time
// on every line, growing the string by doubling (copying megabytes each time) and faulting in
// its 4 KiB pages one by one were most of what a 10 000-series scrape cost.
#include <prometheus/metric_family.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "engine_metrics.h"
#include "engine_metrics_snapshot.h"
#include "huge_pages.h"  // the engine's, for its tables

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

// The families written once per (platform, shop, SLA) series, besides the histogram.
constexpr Family kPerSeries[] = {kRounds,     kBreaches, kWarnings, kUnderstaffed,
                                 kOpen,       kAtRisk,   kOldest,   kWindowRounds,
                                 kCompliance, kBudget,   kAverage,  kViolating};

// `name="value"` as the text format wants a label: backslash, double quote and newline escaped.
void append_label(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += "=\"";
  if (value.find_first_of("\\\"\n") == std::string_view::npos) {
    out += value;
  } else {
    for (const char c : value) {
      if (c == '\n') {
        out += "\\n";
      } else {
        if (c == '\\' || c == '"') out += '\\';
        out += c;
      }
    }
  }
  out += '"';
}

// As prometheus-cpp writes a double: 16 significant digits, Nan and +/-Inf spelled out.
void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    char buffer[32];
    char* end = nullptr;
    // Most figures are counts. A whole number below 10^15 has the same digits either way
    // (16 significant digits print it without an exponent), and integers format faster; -0
    // keeps its sign only through the double's path.
    if (value == std::trunc(value) && std::fabs(value) < 1e15 &&
        !(value == 0.0 && std::signbit(value))) {
      end = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value)).ptr;
    } else {
      end = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general,
                          std::numeric_limits<double>::max_digits10 - 1)
                .ptr;
    }
    out.append(buffer, end);
  }
}

void append_count(std::string& out, std::uint64_t value) {
  char buffer[24];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

// Each series' labels as written: `platform="p",shop="s",sla="x"`; its first part, up to the
// shop, is the label text of the per-shop families.
class SeriesLabels {
 public:
  explicit SeriesLabels(const std::vector<SlaFigures>& series) {
    starts_.reserve(series.size() + 1);
    shop_ends_.reserve(series.size());
    std::size_t room = 0;
    for (const SlaFigures& figures : series) {
      room += figures.platform.size() + figures.shop.size() + figures.sla.size() + 24;
    }
    text_.reserve(room);
    for (const SlaFigures& figures : series) {
      starts_.push_back(text_.size());
      append_label(text_, "platform", figures.platform);
      text_ += ',';
      append_label(text_, "shop", figures.shop);
      shop_ends_.push_back(text_.size());
      text_ += ',';
      append_label(text_, "sla", figures.sla);
    }
    starts_.push_back(text_.size());
  }

  std::string_view all(std::size_t i) const {
    return std::string_view(text_).substr(starts_[i], starts_[i + 1] - starts_[i]);
  }
  std::string_view shop(std::size_t i) const {
    return std::string_view(text_).substr(starts_[i], shop_ends_[i] - starts_[i]);
  }
  std::size_t total_size() const { return text_.size(); }

 private:
  std::string text_;
  std::vector<std::size_t> starts_;
  std::vector<std::size_t> shop_ends_;
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
    append_label(out_, name, value);
  }
  void value(double value) {
    close_labels();
    append_number(out_, value);
    out_ += '\n';
  }

  // A whole sample whose labels are already written out (SeriesLabels).
  void sample(std::string_view suffix, std::string_view labels, double value) {
    line_start(suffix, labels);
    out_ += "} ";
    append_number(out_, value);
    out_ += '\n';
  }
  void sample_count(std::string_view suffix, std::string_view labels, std::uint64_t value) {
    line_start(suffix, labels);
    out_ += "} ";
    append_count(out_, value);
    out_ += '\n';
  }
  // A bucket line; `le` is `,le="bound"} ` (Bounds).
  void bucket(std::string_view labels, std::string_view le, std::uint64_t value) {
    line_start("_bucket", labels);
    out_ += le;
    append_count(out_, value);
    out_ += '\n';
  }

 private:
  void line_start(std::string_view suffix, std::string_view labels) {
    out_ += name_;
    out_ += suffix;
    out_ += '{';
    out_ += labels;
  }
  void close_labels() {
    if (!first_label_) out_ += '}';
    out_ += ' ';
  }

  std::string& out_;
  std::string name_;
  bool first_label_ = true;
};

// Per bound set of the snapshot, `,le="bound"} ` for each bound, then +Inf's.
std::vector<std::vector<std::string>> bucket_labels(const EngineMetricsSnapshot& snapshot) {
  std::vector<std::vector<std::string>> out;
  out.reserve(snapshot.bounds.size());
  for (const std::vector<double>& bounds : snapshot.bounds) {
    std::vector<std::string>& les = out.emplace_back();
    les.reserve(bounds.size() + 1);
    for (const double bound : bounds) {
      std::string& le = les.emplace_back(",le=\"");
      append_number(le, bound);
      le += "\"} ";
    }
    les.emplace_back(",le=\"+Inf\"} ");
  }
  return out;
}

// Room for the whole text, generously: a sample's value takes at most 24 characters.
std::size_t text_size_bound(const EngineMetricsSnapshot& snapshot, const SeriesLabels& labels,
                            const std::vector<MetricFamily>& heads,
                            const std::vector<std::vector<std::string>>& les) {
  constexpr std::size_t kLine = 4 + 24;  // braces, space, value, newline
  std::size_t size = 0;
  for (const MetricFamily& head : heads) size += head.name.size() * 2 + head.help.size() + 32;
  std::size_t per_series_names = 0;
  for (const Family family : kPerSeries) per_series_names += heads[family].name.size() + kLine;
  const std::size_t series = snapshot.series.size();
  size += labels.total_size() * (std::size(kPerSeries) + 1) + series * per_series_names;
  // The per-shop family (at most a line per series) and the histograms.
  size += series * (heads[kAgents].name.size() + kLine);
  const std::size_t response = heads[kResponse].name.size() + 7 + kLine;
  for (std::size_t i = 0; i < series; ++i) {
    if (snapshot.series[i].kind == SlaKind::kAgentPresence) continue;
    const std::vector<std::string>& bucket_les = les[snapshot.histograms[i].bounds];
    const std::size_t label_size = labels.all(i).size();
    size += (bucket_les.size() + 2) * (response + label_size);
    for (const std::string& le : bucket_les) size += le.size();
  }
  for (const auto& platform : snapshot.platforms) {
    size += (kEventTypeCount + 4 + platform.objectives.size()) * (128 + platform.name.size());
    for (const auto& [sla, objective] : platform.objectives) size += sla.size();
  }
  return size;
}

void write_histograms(TextWriter& w, const EngineMetricsSnapshot& snapshot,
                      const SeriesLabels& labels,
                      const std::vector<std::vector<std::string>>& les) {
  for (std::size_t i = 0; i < snapshot.series.size(); ++i) {
    const SlaFigures& figures = snapshot.series[i];
    if (figures.kind == SlaKind::kAgentPresence) continue;
    const EngineMetricsSnapshot::Histogram& histogram = snapshot.histograms[i];
    const std::string_view series = labels.all(i);
    w.sample_count("_count", series, histogram.count);
    w.sample("_sum", series, histogram.sum);
    const std::vector<std::string>& bucket_les = les[histogram.bounds];
    const std::size_t bounds = bucket_les.size() - 1;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < bounds; ++b) {
      if (histogram.observed) cumulative += snapshot.bucket_counts[histogram.first_count + b];
      w.bucket(series, bucket_les[b], cumulative);
    }
    w.bucket(series, bucket_les[bounds], histogram.count);
  }
}

}  // namespace

void write_engine_metrics(const EngineMetricsSnapshot& snapshot, std::string& out) {
  static const std::vector<MetricFamily> heads = engine_metric_families(EngineMetricsSnapshot{});
  const SeriesLabels labels(snapshot.series);
  const std::vector<std::vector<std::string>> les = bucket_labels(snapshot);
  const std::size_t before = out.size();
  out.reserve(before + text_size_bound(snapshot, labels, heads, les));
  advise_huge_pages(out.data() + before, out.capacity() - before);
  TextWriter w(out);
  const auto& platforms = snapshot.platforms;
  const auto& series = snapshot.series;
  auto each_series = [&](Family family, auto sample) {
    w.header(heads[family]);
    for (std::size_t i = 0; i < series.size(); ++i) sample(series[i], labels.all(i));
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
  each_series(kRounds, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.rounds));
  });
  each_series(kBreaches, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.breaches));
  });
  each_series(kWarnings, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.warnings));
  });
  each_series(kUnderstaffed, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, f.understaffed_seconds);
  });
  w.header(heads[kResponse]);
  write_histograms(w, snapshot, labels, les);
  each_series(kOpen, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.open_rounds));
  });
  each_series(kAtRisk, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.at_risk_rounds));
  });
  each_series(kOldest, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l,
             f.oldest_open_start ? to_seconds(f.oldest_open_start->time_since_epoch()) : 0.0);
  });
  each_series(kWindowRounds, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, static_cast<double>(f.window_rounds));
  });
  each_series(kCompliance, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, f.compliance_ratio);
  });
  w.header(heads[kObjective]);
  for (const auto& platform : platforms) {
    for (const auto& [sla, objective] : platform.objectives) {
      w.start();
      w.label("platform", platform.name);
      w.label("sla", sla);
      w.value(objective);
    }
  }
  each_series(kBudget, [&](const SlaFigures& f, std::string_view l) {
    if (f.error_budget_remaining_rounds) {
      w.sample({}, l, static_cast<double>(*f.error_budget_remaining_rounds));
    }
  });
  each_series(kAverage, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, f.average_response_seconds);
  });
  each_series(kViolating, [&](const SlaFigures& f, std::string_view l) {
    w.sample({}, l, f.violating ? 1.0 : 0.0);
  });
  w.header(heads[kAgents]);
  const SlaFigures* last = nullptr;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const SlaFigures& f = series[i];
    if (last != nullptr && last->platform == f.platform && last->shop == f.shop) continue;
    last = &f;
    w.sample({}, labels.shop(i), f.agents_online);
  }
  w.header(heads[kServiceOpen]);
  for (const auto& platform : platforms) {
    w.start();
    w.label("platform", platform.name);
    w.value(platform.service_open ? 1.0 : 0.0);
  }
}

}  // namespace replywatch::server

#include "replywatch/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cmath>

namespace replywatch {
namespace {

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

std::string percent(double ratio) { return fmt::format("{:.1f}%", ratio * 100.0); }

std::string seconds_human(double seconds) {
  return format_duration_human(Duration(static_cast<std::int64_t>(std::llround(seconds * 1000))));
}

}  // namespace

std::string format_json_double(double value) {
  if (!std::isfinite(value)) return "null";
  std::string text = fmt::format("{}", value);  // shortest form that reads back exactly
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string format_report_json(const ReplayReport& report) {
  std::string out;
  out += fmt::format(
      R"({{"until": {}, "events": {{"accepted": {}, "duplicates": {}, "rejected": {}, "late": {}}}, "slas": [)",
      json_string(format_rfc3339(report.until)), report.accepted, report.duplicates,
      report.rejected, report.late);
  bool first = true;
  for (const SlaFigures& f : report.slas) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    const std::string budget = f.error_budget_remaining_rounds
                                   ? fmt::format("{}", *f.error_budget_remaining_rounds)
                                   : std::string("null");
    out += fmt::format(
        R"({{"platform": {}, "shop": {}, "sla": {}, "kind": "{}", "rounds": {}, "breaches": {}, )"
        R"("warnings": {}, "open_rounds": {}, "window_rounds": {}, "compliance_ratio": {}, )"
        R"("average_response_seconds": {}, "error_budget_remaining_rounds": {}, )"
        R"("understaffed_seconds": {}, "violating": {}}})",
        json_string(f.platform), json_string(f.shop), json_string(f.sla), sla_kind_name(f.kind),
        f.rounds, f.breaches, f.warnings, f.open_rounds, f.window_rounds,
        format_json_double(f.compliance_ratio), format_json_double(f.average_response_seconds),
        budget, format_json_double(f.understaffed_seconds), f.violating ? "true" : "false");
  }
  out += report.slas.empty() ? "]}\n" : "\n]}\n";
  return out;
}

std::string format_report_table(const ReplayReport& report) {
  using Row = std::array<std::string, 13>;
  std::vector<Row> rows;
  rows.push_back({"PLATFORM", "SHOP", "SLA", "KIND", "ROUNDS", "BREACHES", "WARNINGS", "OPEN",
                  "WINDOW", "COMPLIANCE", "AVG RESPONSE", "BUDGET", "UNDERSTAFFED"});
  for (const SlaFigures& f : report.slas) {
    Row row;
    row[0] = f.platform;
    row[1] = f.shop;
    row[2] = f.sla;
    row[3] = std::string(sla_kind_name(f.kind));
    const bool rounds_apply = f.kind != SlaKind::kAgentPresence;
    row[4] = rounds_apply ? fmt::format("{}", f.rounds) : "-";
    row[5] = f.kind != SlaKind::kAverageResponse ? fmt::format("{}", f.breaches) : "-";
    row[6] = f.kind == SlaKind::kReplyTime ? fmt::format("{}", f.warnings) : "-";
    row[7] = rounds_apply ? fmt::format("{}", f.open_rounds) : "-";
    row[8] = rounds_apply ? fmt::format("{}", f.window_rounds) : "-";
    row[9] = f.kind == SlaKind::kReplyTime ? percent(f.compliance_ratio) : "-";
    row[10] = f.kind == SlaKind::kAverageResponse ? seconds_human(f.average_response_seconds) : "-";
    row[11] =
        f.error_budget_remaining_rounds ? fmt::format("{}", *f.error_budget_remaining_rounds) : "-";
    row[12] = f.kind == SlaKind::kAgentPresence ? seconds_human(f.understaffed_seconds) : "-";
    rows.push_back(std::move(row));
  }
  std::array<std::size_t, 13> widths{};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out =
      fmt::format("replay until {}  events: {} accepted, {} duplicates, {} rejected, {} late\n\n",
                  format_rfc3339(report.until), report.accepted, report.duplicates, report.rejected,
                  report.late);
  std::size_t violating = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const bool is_violating = r > 0 && report.slas[r - 1].violating;
    violating += is_violating ? 1 : 0;
    std::string line = r == 0 ? "  " : (is_violating ? "! " : "  ");
    for (std::size_t i = 0; i < rows[r].size(); ++i) {
      // Text columns left-aligned, numbers right-aligned.
      line += i < 4 ? fmt::format("{:<{}}", rows[r][i], widths[i])
                    : fmt::format("{:>{}}", rows[r][i], widths[i]);
      if (i + 1 < rows[r].size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  if (report.slas.empty()) out += "  (no shop had an applied event)\n";
  out += fmt::format("\n{} of {} SLA rows violating{}\n", violating, report.slas.size(),
                     violating > 0 ? " (marked !)" : "");
  return out;
}

}  // namespace replywatch

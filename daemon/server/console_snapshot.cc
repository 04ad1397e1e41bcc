#include "console_snapshot.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <map>
#include <set>

#include "at_risk.h"

namespace replywatch::server {
namespace {

std::int64_t millis(Instant at) { return at.time_since_epoch().count(); }

struct Row {
  WaitingRoundView view;
  std::string conversation;
};

// Soonest due first; ties in a stable order so a page does not shuffle equal rows.
bool sooner(const Row& a, const Row& b) {
  if (a.view.due != b.view.due) return a.view.due < b.view.due;
  if (a.view.start != b.view.start) return a.view.start < b.view.start;
  if (a.conversation != b.conversation) return a.conversation < b.conversation;
  return a.view.ref.sla < b.view.ref.sla;
}

struct Queue {
  std::vector<Row> heap;  // the `rows` soonest, a max-heap under `sooner`
  std::uint64_t total = 0;
  std::uint64_t at_risk = 0;
  std::uint64_t overdue = 0;
};

}  // namespace

std::optional<std::string> parse_console_filter(std::string_view query, ConsoleFilter& out) {
  // The at-risk parser knows percent-encoding and platform/shop; sla is ours.
  std::string rest;
  std::string_view remaining = query;
  while (!remaining.empty()) {
    const std::size_t amp = remaining.find('&');
    const std::string_view pair = remaining.substr(0, amp);
    remaining = amp == std::string_view::npos ? std::string_view{} : remaining.substr(amp + 1);
    if (pair.starts_with("sla=")) {
      AtRiskQuery decoded;
      if (auto problem = parse_at_risk_query("platform=" + std::string(pair.substr(4)), decoded)) {
        return problem;
      }
      if (!decoded.platform->empty()) out.sla = *decoded.platform;
      continue;
    }
    if (pair.starts_with("limit=") || pair.starts_with("at_risk_only=")) {
      return "unknown parameter " + std::string(pair.substr(0, pair.find('='))) +
             " (known: platform, shop, sla)";
    }
    if (!rest.empty()) rest += '&';
    rest += pair;
  }
  AtRiskQuery decoded;
  if (auto problem = parse_at_risk_query(rest, decoded)) {
    if (problem->find("(known:") != std::string::npos) {
      return problem->substr(0, problem->find(" (known:")) + " (known: platform, shop, sla)";
    }
    return problem;
  }
  if (decoded.platform && !decoded.platform->empty()) out.platform = decoded.platform;
  if (decoded.shop && !decoded.shop->empty()) out.shop = decoded.shop;
  return std::nullopt;
}

std::vector<boost::json::object> console_queues(const EngineHost& host, Instant now,
                                                std::span<const ConsoleFilter> filters,
                                                std::size_t rows) {
  const Engine& engine = host.engine();
  const RuleSet& rules = engine.rules();
  std::vector<Queue> queues(filters.size());
  engine.for_each_waiting_round([&](const WaitingRoundView& view) {
    const PlatformRules& platform = rules.platforms[view.ref.platform];
    const std::string& shop = engine.shop_name(view.ref.shop);
    const std::string& sla = platform.slas[view.ref.sla].name;
    for (std::size_t f = 0; f < filters.size(); ++f) {
      const ConsoleFilter& filter = filters[f];
      if ((filter.platform && *filter.platform != platform.platform) ||
          (filter.shop && *filter.shop != shop) || (filter.sla && *filter.sla != sla)) {
        continue;
      }
      Queue& queue = queues[f];
      ++queue.total;
      if (view.overdue) {
        ++queue.overdue;
      } else if (view.at_risk) {
        ++queue.at_risk;
      }
      if (rows == 0) continue;
      Row row{view, std::string(view.conversation)};
      if (queue.heap.size() == rows) {
        if (!sooner(row, queue.heap.front())) continue;
        std::pop_heap(queue.heap.begin(), queue.heap.end(), sooner);
        queue.heap.pop_back();
      }
      queue.heap.push_back(std::move(row));
      std::push_heap(queue.heap.begin(), queue.heap.end(), sooner);
    }
  });
  std::vector<boost::json::object> out;
  out.reserve(queues.size());
  for (Queue& queue : queues) {
    std::sort_heap(queue.heap.begin(), queue.heap.end(), sooner);
    boost::json::array listed;
    listed.reserve(queue.heap.size());
    for (const Row& row : queue.heap) {
      const PlatformRules& platform = rules.platforms[row.view.ref.platform];
      const Sla& sla = platform.slas[row.view.ref.sla];
      boost::json::object item{
          {"platform", platform.platform},
          {"shop", engine.shop_name(row.view.ref.shop)},
          {"sla", sla.name},
          {"kind", sla_kind_name(sla.kind)},
          {"conversation", row.conversation},
          {"start", millis(row.view.start)},
          {"due", millis(row.view.due)},
          {"at_risk", row.view.at_risk},
          {"overdue", row.view.overdue},
      };
      if (row.view.warn_at) {
        item["warn_at"] = millis(*row.view.warn_at);
      } else {
        item["warn_at"] = nullptr;
      }
      listed.push_back(std::move(item));
    }
    out.push_back(boost::json::object{
        {"now", millis(now)},
        {"watermark", millis(engine.watermark())},
        {"total", queue.total},
        {"at_risk", queue.at_risk},
        {"overdue", queue.overdue},
        {"rounds", std::move(listed)},
    });
  }
  return out;
}

std::vector<boost::json::object> console_shops(const EngineHost& host,
                                               std::span<const ConsoleFilter> filters) {
  const Engine& engine = host.engine();
  const Instant at = engine.watermark();
  const RuleSet& rules = engine.rules();
  std::vector<boost::json::array> lists(filters.size());
  for (const SlaFigures& figures : engine.figures(at)) {
    const Sla& sla = rules.platforms[figures.ref.platform].slas[figures.ref.sla];
    boost::json::object entry{
        {"platform", figures.platform},
        {"shop", figures.shop},
        {"sla", figures.sla},
        {"kind", sla_kind_name(figures.kind)},
        {"rounds", figures.rounds},
        {"breaches", figures.breaches},
        {"open_rounds", figures.open_rounds},
        {"at_risk_rounds", figures.at_risk_rounds},
        {"window_rounds", figures.window_rounds},
        {"compliance_ratio", figures.compliance_ratio},
        {"average_response_seconds", figures.average_response_seconds},
        {"understaffed_seconds", figures.understaffed_seconds},
        {"violating", figures.violating},
        {"agents_online", figures.agents_online},
    };
    entry["objective"] = sla.objective ? boost::json::value(*sla.objective) : nullptr;
    entry["error_budget_remaining_rounds"] =
        figures.error_budget_remaining_rounds
            ? boost::json::value(*figures.error_budget_remaining_rounds)
            : nullptr;
    entry["deadline_seconds"] =
        sla.kind == SlaKind::kReplyTime ? boost::json::value(to_seconds(sla.deadline)) : nullptr;
    entry["max_average_seconds"] = sla.kind == SlaKind::kAverageResponse
                                       ? boost::json::value(to_seconds(sla.max_average))
                                       : nullptr;
    entry["min_online"] =
        sla.kind == SlaKind::kAgentPresence ? boost::json::value(sla.min_online) : nullptr;
    for (std::size_t f = 0; f < filters.size(); ++f) {
      const ConsoleFilter& filter = filters[f];
      if ((filter.platform && *filter.platform != figures.platform) ||
          (filter.shop && *filter.shop != figures.shop) ||
          (filter.sla && *filter.sla != figures.sla)) {
        continue;
      }
      lists[f].push_back(entry);
    }
  }
  std::vector<boost::json::object> out;
  for (boost::json::array& list : lists) {
    out.push_back(boost::json::object{{"at", millis(at)}, {"slas", std::move(list)}});
  }
  return out;
}

boost::json::object console_choices(const EngineHost& host) {
  const Engine& engine = host.engine();
  const RuleSet& rules = engine.rules();
  std::vector<std::set<std::string>> shops(rules.platforms.size());
  for (const SlaFigures& figures : engine.figures(engine.watermark())) {
    shops[figures.ref.platform].insert(figures.shop);
  }
  boost::json::array platforms;
  for (std::size_t p = 0; p < rules.platforms.size(); ++p) {
    boost::json::array slas;
    for (const Sla& sla : rules.platforms[p].slas) slas.emplace_back(sla.name);
    boost::json::array names;
    for (const std::string& shop : shops[p]) names.emplace_back(shop);
    platforms.push_back(boost::json::object{{"name", rules.platforms[p].platform},
                                            {"slas", std::move(slas)},
                                            {"shops", std::move(names)}});
  }
  return boost::json::object{{"platforms", std::move(platforms)}};
}

}  // namespace replywatch::server

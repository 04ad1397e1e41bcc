#include "at_risk.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <charconv>
#include <map>
#include <tuple>

namespace replywatch::server {
namespace {

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%') {
      unsigned value = 0;
      if (i + 2 >= text.size()) return std::nullopt;
      auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc{} || ptr != text.data() + i + 3) return std::nullopt;
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// What of a client's text an error message may echo: printable ASCII, so the JSON stays valid.
std::string printable(std::string_view text) {
  std::string shown;
  for (const char c : text.substr(0, 64)) shown.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  return shown;
}

struct Candidate {
  Instant due;
  bool at_risk;
  Instant start;
  std::string conversation;
};

}  // namespace

std::optional<std::string> parse_at_risk_query(std::string_view query, AtRiskQuery& out) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) return "bad percent-encoding in " + printable(key);
    if (key == "platform") {
      out.platform = *value;
    } else if (key == "shop") {
      out.shop = *value;
    } else if (key == "limit") {
      std::size_t limit = 0;
      auto [ptr, ec] = std::from_chars(value->data(), value->data() + value->size(), limit);
      if (ec != std::errc{} || ptr != value->data() + value->size() || limit == 0 ||
          limit > kMaxAtRiskLimit) {
        return "limit must be a number from 1 to " + std::to_string(kMaxAtRiskLimit);
      }
      out.limit = limit;
    } else if (key == "at_risk_only") {
      if (*value != "true" && *value != "false" && *value != "1" && *value != "0") {
        return std::string("at_risk_only must be true or false");
      }
      out.at_risk_only = *value == "true" || *value == "1";
    } else {
      return "unknown parameter " + printable(key) +
             " (known: platform, shop, limit, at_risk_only)";
    }
  }
  return std::nullopt;
}

boost::json::object at_risk_report(const EngineHost& host, Instant now, const AtRiskQuery& query) {
  const Engine& engine = host.engine();
  const RuleSet& rules = engine.rules();
  // Per (platform, shop, SLA), only the `limit` most urgent rounds are kept, however many are
  // open.
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::vector<Candidate>> groups;
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>,
           std::pair<std::size_t, std::size_t>>
      totals;  // open, at risk
  // At risk first, then the earliest due.
  auto more_urgent = [](const Candidate& a, const Candidate& b) {
    if (a.at_risk != b.at_risk) return a.at_risk;
    return a.due < b.due;
  };
  engine.for_each_open_round([&](const OpenRoundView& round) {
    const PlatformRules& platform = rules.platforms[round.ref.platform];
    if (query.platform && platform.platform != *query.platform) return;
    if (query.shop && engine.shop_name(round.ref.shop) != *query.shop) return;
    const auto key = std::make_tuple(round.ref.platform, round.ref.shop, round.ref.sla);
    auto& total = totals[key];
    ++total.first;
    if (round.at_risk) ++total.second;
    if (query.at_risk_only && !round.at_risk) return;
    // A heap under more_urgent keeps the least urgent kept round at its front.
    auto& heap = groups[key];
    Candidate candidate{round.due, round.at_risk, round.start, std::string()};
    if (heap.size() == query.limit) {
      if (!more_urgent(candidate, heap.front())) return;
      std::pop_heap(heap.begin(), heap.end(), more_urgent);
      heap.pop_back();
    }
    candidate.conversation = std::string(round.conversation);
    heap.push_back(std::move(candidate));
    std::push_heap(heap.begin(), heap.end(), more_urgent);
  });

  struct Group {
    std::string platform, shop, sla;
    boost::json::object body;
  };
  std::vector<Group> out;
  for (auto& [key, heap] : groups) {
    const auto [platform_index, shop_index, sla_index] = key;
    const PlatformRules& platform = rules.platforms[platform_index];
    const Sla& sla = platform.slas[sla_index];
    std::sort_heap(heap.begin(), heap.end(), more_urgent);
    boost::json::array rounds;
    for (const Candidate& candidate : heap) {
      rounds.push_back(boost::json::object{
          {"conversation", candidate.conversation},
          {"start", format_rfc3339(candidate.start)},
          {"due", format_rfc3339(candidate.due)},
          {"seconds_left", to_seconds(candidate.due - now)},
          {"at_risk", candidate.at_risk},
      });
    }
    Group group{platform.platform, engine.shop_name(shop_index), sla.name, {}};
    group.body = boost::json::object{
        {"platform", group.platform},
        {"shop", group.shop},
        {"sla", group.sla},
        {"kind", sla_kind_name(sla.kind)},
        {"open_rounds", totals[key].first},
        {"at_risk_rounds", totals[key].second},
        {"rounds", std::move(rounds)},
    };
    out.push_back(std::move(group));
  }
  std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
    return std::tie(a.platform, a.shop, a.sla) < std::tie(b.platform, b.shop, b.sla);
  });
  boost::json::array slas;
  for (Group& group : out) slas.push_back(std::move(group.body));
  return boost::json::object{
      {"now", format_rfc3339(now)},
      {"watermark", format_rfc3339(engine.watermark())},
      {"slas", std::move(slas)},
  };
}

}  // namespace replywatch::server

// The figures' oldest open round per (platform, shop, SLA), kept as rounds open and are decided,
// against the open rounds themselves; and the figures' name order, kept as shops appear.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine_random_stream.h"
#include "engine_test_support.h"

using namespace rwtest;

namespace {

using Ref = std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>;

// The stream of engine_random_stream.h over two platforms, with one event in twelve held back
// past the allowed lateness, so that it is applied late and may open a round older than others.
std::vector<Event> late_stream(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  struct Arrival {
    Instant at;
    Event event;
  };
  std::vector<Arrival> arrivals;
  for (Event& event : generate(seed)) {
    if (rng() % 2 == 0) event.platform = "amazon";
    const bool held = rng() % 12 == 0;
    const Instant at =
        event.ts + (held ? Duration(static_cast<std::int64_t>(3000 + rng() % 20000)) : Duration(0));
    arrivals.push_back({at, std::move(event)});
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
  std::vector<Event> out;
  for (Arrival& arrival : arrivals) out.push_back(std::move(arrival.event));
  return out;
}

void check_figures(const replywatch::Engine& engine, Instant at) {
  std::map<Ref, Instant> oldest;
  engine.for_each_open_round([&](const replywatch::OpenRoundView& round) {
    const Ref ref{round.ref.platform, round.ref.shop, round.ref.sla};
    const auto [it, inserted] = oldest.try_emplace(ref, round.start);
    if (!inserted) it->second = std::min(it->second, round.start);
  });
  const auto figures = engine.figures(at);
  std::size_t with_oldest = 0;
  for (std::size_t i = 0; i < figures.size(); ++i) {
    const auto& f = figures[i];
    if (i > 0) {
      const auto& before = figures[i - 1];
      REQUIRE(std::tie(before.platform, before.shop, before.sla) <
              std::tie(f.platform, f.shop, f.sla));
    }
    const auto found = oldest.find(Ref{f.ref.platform, f.ref.shop, f.ref.sla});
    INFO(f.platform << "/" << f.shop << "/" << f.sla);
    if (found == oldest.end()) {
      REQUIRE_FALSE(f.oldest_open_start);
    } else {
      REQUIRE(f.oldest_open_start == found->second);
      ++with_oldest;
    }
  }
  REQUIRE(with_oldest == oldest.size());
}

}  // namespace

TEST_CASE("engine_oldest_open: the oldest open start follows every open round, late ones too",
          "[engine][engine_oldest_open]") {
  std::string amazon = kYaml;
  amazon.replace(amazon.find("platform: tmall"), 15, "platform: amazon");
  const auto rules = rules_from_yamls({kYaml, amazon});
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    Harness h(rules);
    std::optional<Instant> largest;
    for (const Event& event : late_stream(seed)) {
      if (!largest || event.ts > *largest) largest = event.ts;
      h.engine.offer(event);
      h.engine.advance(*largest - kLateness);
      check_figures(h.engine, *largest);
    }
    // Every deadline passes: nothing stays pending, and every queue drains.
    h.engine.advance_through(*largest + std::chrono::hours(48));
    check_figures(h.engine, *largest + std::chrono::hours(48));
  }
}

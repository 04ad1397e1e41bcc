// The engine alone against JSON decoding alone, under Google Benchmark, on the bundled rules and
// generated traffic (bench/traffic.h). Both report items (events) per second. BM_Figures times
// Engine::figures, the part of a /metrics scrape that runs on the event loop.
//
//   build/bench/engine_gbench [--events=N] [Google Benchmark flags, e.g.
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "replywatch/engine.h"
#include "replywatch/event_codec.h"
#include "replywatch/rule_loader.h"
#include "traffic.h"

namespace {

std::size_t event_count = 200'000;

std::shared_ptr<const replywatch::RuleSet> bundled_rules() {
  static const auto rules = [] {
    auto loaded = replywatch::load_rule_directory(REPLYWATCH_SOURCE_DIR "/rules");
    if (!loaded.ok()) std::exit(1);
    return std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
  }();
  return rules;
}

const std::vector<std::string>& traffic() {
  static const auto lines = replywatch::bench::make_traffic(event_count, 42);
  return lines;
}

std::vector<replywatch::Event> decode_all() {
  const auto rules = bundled_rules();
  auto known = [&](std::string_view platform) { return rules->find(platform) != nullptr; };
  std::vector<replywatch::Event> events;
  events.reserve(traffic().size());
  for (const std::string& line : traffic()) {
    auto result = replywatch::decode_event_text(line, known);
    if (auto* event = std::get_if<replywatch::Event>(&result)) events.push_back(std::move(*event));
  }
  return events;
}

void BM_DecodeOnly(benchmark::State& state) {
  for (auto _ : state) {
    auto events = decode_all();
    benchmark::DoNotOptimize(events.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * traffic().size()));
}

// Offers events the replay way (advance to the largest ts - 2 s after each); returns that ts.
replywatch::Instant offer_all(replywatch::Engine& engine, std::vector<replywatch::Event>& events) {
  replywatch::Instant largest = replywatch::kInstantMin;
  for (replywatch::Event& event : events) {
    largest = std::max(largest, event.ts);
    engine.offer(std::move(event));
    engine.advance(largest - std::chrono::seconds(2));
  }
  return largest;
}

// Offers the decoded events (offer_all) and
// fires everything due at the end.
void BM_EngineOnly(benchmark::State& state) {
  const auto decoded = decode_all();
  for (auto _ : state) {
    state.PauseTiming();
    auto events = decoded;
    state.ResumeTiming();
    {
      replywatch::Engine engine(bundled_rules());
      const replywatch::Instant largest = offer_all(engine, events);
      engine.advance_through(largest);
      benchmark::DoNotOptimize(engine.counters().accepted);
    }
    // The benchmark's own copy of the input (1 M moved-from events, 240 MB) is freed untimed:
    // unmapping it is no part of the engine's work.
    state.PauseTiming();
    std::vector<replywatch::Event>().swap(events);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * decoded.size()));
}

// What a /metrics scrape copies on the event loop: every (platform, shop, SLA)'s figures, from an
// engine that has taken the whole generated day (about a third of its events open a
// conversation) plus one buyer message for each of 2 000 more shops.
void BM_Figures(benchmark::State& state) {
  auto events = decode_all();
  replywatch::Engine engine(bundled_rules());
  const replywatch::Instant largest = offer_all(engine, events);
  const auto& platforms = bundled_rules()->platforms;
  for (std::size_t shop = 0; shop < 2000; ++shop) {
    replywatch::Event event;
    event.id = fmt::format("extra{}", shop);
    event.platform = platforms[shop % platforms.size()].platform;
    event.shop = fmt::format("extra-shop{}", shop);
    event.conversation = fmt::format("extra-buyer{}", shop);
    event.ts = largest;
    engine.offer(std::move(event));
  }
  engine.advance(largest + std::chrono::milliseconds(1));
  std::size_t series = 0;
  for (auto _ : state) {
    auto figures = engine.figures(largest);
    series = figures.size();
    benchmark::DoNotOptimize(figures.data());
  }
  // Items are series, so that every benchmark here reports items per second (bench/run.sh).
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * series));
  state.counters["series"] = static_cast<double>(series);
  state.counters["conversations"] = static_cast<double>(engine.memory_stats().conversations);
}

BENCHMARK(BM_DecodeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EngineOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Figures)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first; the rest goes to Google Benchmark.
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--events=", 9) == 0) {
      event_count = std::strtoull(argv[i] + 9, nullptr, 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_count = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_count, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

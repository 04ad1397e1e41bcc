// Engine throughput and memory per open round, measured on the bundled rules.
//
// Prints medians of several repetitions. The baseline, measured in the same run, is decoding the
// same NDJSON lines without the engine: the ratio says what the engine adds to parsing.
//
//   build/bench/engine_bench [--events N] [--repeat R] [--open-rounds M]
#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "replywatch/engine.h"
#include "replywatch/event_codec.h"
#include "replywatch/replay_session.h"
#include "replywatch/rule_loader.h"
#include "traffic.h"

namespace {

using replywatch::Duration;
using replywatch::Instant;

// Bench timing is the one place outside the daemon's clock interface that reads a clock: it
// measures this process, not event time.
using BenchClock = std::chrono::steady_clock;

std::shared_ptr<const replywatch::RuleSet> load_bundled_rules() {
  auto loaded = replywatch::load_rule_directory(REPLYWATCH_SOURCE_DIR "/rules");
  if (!loaded.ok()) {
    for (const auto& error : loaded.errors) fmt::print(stderr, "{}\n", error.to_string());
    std::exit(1);
  }
  return std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
}

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Small chunks plus the large ones malloc serves with mmap.
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Opens `count` conversations that are never answered and reports the heap they take. Each
// event is applied as it comes (as live and replay do), so the reorder buffer stays small.
std::size_t heap_for_open_conversations(const std::shared_ptr<const replywatch::RuleSet>& rules,
                                        const std::string& platform, std::size_t count,
                                        bool unique_ids, replywatch::Engine::MemoryStats& stats) {
  const Instant start = Instant(Duration(1763629200000));  // 2025-11-20T09:00:00Z
  malloc_trim(0);
  const std::size_t before = heap_in_use();
  // With retention 0 and one shared id, no event id is remembered past its own instant.
  replywatch::Engine engine(
      rules, replywatch::EngineOptions{unique_ids ? std::chrono::hours(24) : Duration(0)});
  for (std::size_t i = 0; i < count; ++i) {
    replywatch::Event event;
    event.id = unique_ids ? fmt::format("msg-{:012}", i) : "same";
    event.platform = platform;
    event.shop = fmt::format("shop{}", i % 100);
    event.conversation = fmt::format("tb_{:09}", i);
    event.ts = start + Duration(static_cast<std::int64_t>(i) * 2);
    engine.offer(std::move(event));
    engine.advance(start + Duration(static_cast<std::int64_t>(i) * 2 + 1));
  }
  stats = engine.memory_stats();
  return heap_in_use() - before;
}

void measure_open_round_memory(const std::shared_ptr<const replywatch::RuleSet>& rules,
                               const std::string& platform, std::size_t count) {
  replywatch::Engine::MemoryStats rounds;
  const std::size_t rounds_bytes =
      heap_for_open_conversations(rules, platform, count, false, rounds);
  replywatch::Engine::MemoryStats with_ids;
  const std::size_t with_ids_bytes =
      heap_for_open_conversations(rules, platform, count, true, with_ids);
  fmt::print(
      "memory [{}]: {} conversations, {} open rounds: {:.0f} bytes per open round; the dedup set "
      "adds {:.0f} bytes per remembered event id ({} ids)\n",
      platform, rounds.conversations, rounds.open_rounds,
      static_cast<double>(rounds_bytes) / static_cast<double>(rounds.open_rounds),
      (static_cast<double>(with_ids_bytes) - static_cast<double>(rounds_bytes)) /
          static_cast<double>(with_ids.dedup_entries),
      with_ids.dedup_entries);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t event_count = 1'000'000;
  int repeat = 5;
  std::size_t open_rounds = 200'000;
  std::string write_to;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--events") event_count = value;
    if (flag == "--repeat") repeat = static_cast<int>(value);
    if (flag == "--open-rounds") open_rounds = value;
    if (flag == "--write-ndjson") write_to = argv[i + 1];
  }
  if (!write_to.empty()) {
    // The same traffic as a file, for timing `replywatch replay` on it.
    std::FILE* out = std::fopen(write_to.c_str(), "w");
    if (out == nullptr) return 2;
    for (const std::string& line : replywatch::bench::make_traffic(event_count, 42)) {
      fmt::print(out, "{}\n", line);
    }
    return std::fclose(out) == 0 ? 0 : 2;
  }
  const auto rules = load_bundled_rules();
  fmt::print("generating {} events...\n", event_count);
  const std::vector<std::string> lines = replywatch::bench::make_traffic(event_count, 42);

  std::vector<double> decode_only;
  std::vector<double> replay;
  std::vector<double> engine_only;
  replywatch::ReplayReport last_report;
  for (int r = 0; r < repeat; ++r) {
    // Baseline: JSON decoding and validation alone.
    auto known = [&](std::string_view platform) { return rules->find(platform) != nullptr; };
    std::vector<replywatch::Event> decoded;
    decoded.reserve(lines.size());
    auto started = BenchClock::now();
    for (const std::string& line : lines) {
      auto result = replywatch::decode_event_text(line, known);
      if (auto* event = std::get_if<replywatch::Event>(&result)) {
        decoded.push_back(std::move(*event));
      }
    }
    decode_only.push_back(static_cast<double>(lines.size()) / seconds_since(started));

    // The engine alone on decoded events, driven the replay way.
    started = BenchClock::now();
    {
      replywatch::Engine engine(rules);
      Instant largest = replywatch::kInstantMin;
      for (replywatch::Event& event : decoded) {
        largest = std::max(largest, event.ts);
        engine.offer(std::move(event));
        engine.advance(largest - std::chrono::seconds(2));
      }
      engine.advance_through(largest);
    }
    engine_only.push_back(static_cast<double>(lines.size()) / seconds_since(started));

    // What `replywatch replay` does: decode + engine + report.
    started = BenchClock::now();
    replywatch::ReplaySession session(rules, {});
    for (const std::string& line : lines) session.feed_line(line);
    last_report = session.finish();
    replay.push_back(static_cast<double>(lines.size()) / seconds_since(started));
  }
  const double decode_median = median(decode_only);
  fmt::print("events: {} accepted, {} duplicates, {} late; {} SLA rows\n", last_report.accepted,
             last_report.duplicates, last_report.late, last_report.slas.size());
  fmt::print("median of {} runs:\n", repeat);
  fmt::print("  baseline decode only : {:>12.0f} events/s\n", decode_median);
  fmt::print("  engine only          : {:>12.0f} events/s  ({:.2f}x the baseline)\n",
             median(engine_only), median(engine_only) / decode_median);
  fmt::print("  replay (decode+engine): {:>11.0f} events/s  ({:.2f}x the baseline)\n",
             median(replay), median(replay) / decode_median);

  measure_open_round_memory(rules, "tmall", open_rounds);
  measure_open_round_memory(rules, "amazon", open_rounds);
  return 0;
}

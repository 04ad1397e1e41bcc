// Restart time with N events in the event log (default 10 M): the newest snapshot plus the log
// records after it (default 1 M, the default snapshot_every_events, so the worst case between
// two snapshots), against the log alone, measured in the same run.
//
//   build/bench/restore_bench [--events N] [--tail T] [--per-day D] [--dir DIR] [--no-baseline]
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "engine_host.h"
#include "local_event_log.h"
#include "log.h"
#include "replywatch/rule_fingerprint.h"
#include "replywatch/rule_loader.h"
#include "snapshot_store.h"
#include "state_rebuild.h"
#include "state_snapshot.h"

namespace {

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;
using replywatch::server::EngineHost;
namespace storage = replywatch::storage;

// Bench timing is the one place outside the daemon's clock interface that reads a clock: it
// measures this process, not event time.
using BenchClock = std::chrono::steady_clock;

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

class BenchTime final : public replywatch::server::TimeSource {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
  replywatch::server::SteadyInstant steady_now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

constexpr const char* kRules = R"(
platform: bench
timezone: UTC
slas:
  - name: reply_3m
    kind: reply_time
    deadline: 3m
    warn_before: 1m
    objective: 0.9
  - name: avg
    kind: average_response
    max_average: 1m
    unanswered_cost: 10m
)";

// Event i of the stream: buyer messages and, 30 s later, the agent's answer, in 500 shops; one
// pair every `spacing` of event time (1 M events a day by default, the issue's traffic).
Event event_at(std::uint64_t i, Instant t0, Duration spacing) {
  Event event;
  event.platform = "bench";
  const std::uint64_t pair = i / 2;
  event.shop = fmt::format("shop{}", pair % 500);
  event.conversation = fmt::format("c{}", pair);
  event.id = fmt::format("e{}", i);
  event.type = i % 2 == 0 ? EventType::kBuyerMessage : EventType::kAgentMessage;
  event.ts = t0 + spacing * static_cast<std::int64_t>(pair) + Duration(i % 2 == 0 ? 0 : 30'000);
  if (event.type == EventType::kAgentMessage) event.agent = "a1";
  return event;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t events = 10'000'000;
  std::uint64_t tail = 1'000'000;
  std::string dir = "/tmp/replywatch-restore-bench";
  bool baseline = true;
  std::uint64_t per_day = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-baseline") baseline = false;
    if (i + 1 >= argc) continue;
    if (flag == "--events")
      events = std::stoull(argv[++i]);
    else if (flag == "--tail")
      tail = std::stoull(argv[++i]);
    else if (flag == "--dir")
      dir = argv[++i];
  }
  auto loaded = replywatch::load_rule_text(kRules, "bench.yaml");
  if (!loaded.ok()) return 1;
  const auto rules = std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
  const auto identity = replywatch::rule_set_identity(*rules, std::chrono::hours(24), 1000);
  BenchTime time;
  const replywatch::server::Logger logger(time);
  std::filesystem::remove_all(dir);

  storage::LocalLogOptions options;
  options.directory = dir + "/log";
  storage::LogError error;
  auto log = storage::LocalEventLog::open(options, error);
  if (!log) {
    fmt::print(stderr, "{}\n", error.message);
    return 1;
  }
  const replywatch::server::SnapshotStore snapshots(dir + "/snapshots");
  if (snapshots.prepare()) return 1;

  // Writes the log as the daemon would (requests of 1 000 events), and keeps a live host up to
  // the snapshot point.
  const Instant t0 = Instant(Duration(1795359600000));
  // A pair of events every 2 days / per_day.
  const Duration spacing = Duration(static_cast<std::int64_t>(2 * 86'400'000 / per_day));
  EngineHost live(rules, {}, 1000);
  const std::uint64_t snapshot_at = events > tail ? events - tail : 0;
  const auto setup = BenchClock::now();
  std::vector<Event> request;
  std::vector<std::future<storage::AppendOutcome>> pending;
  for (std::uint64_t i = 0; i < events;) {
    request.clear();
    for (int k = 0; k < 1000 && i < events; ++k, ++i) request.push_back(event_at(i, t0, spacing));
    const Instant watermark = request.front().ts - Duration(2000);
    std::vector<const Event*> pointers;
    for (const Event& event : request) pointers.push_back(&event);
    auto promise = std::make_shared<std::promise<storage::AppendOutcome>>();
    pending.push_back(promise->get_future());
    log->append(watermark, pointers, [promise](storage::AppendOutcome outcome) {
      promise->set_value(std::move(outcome));
    });
    if (i <= snapshot_at) {
      live.engine().advance(watermark);
      for (Event& event : request) live.offer(std::move(event));
    }
    if (pending.size() >= 64 || i == snapshot_at || i == events) {
      for (auto& future : pending) {
        if (future.get().error) return 1;
      }
      pending.clear();
    }
    if (i == snapshot_at) {
      if (snapshots.write(log->next_sequence(), time.now(), [&](replywatch::SnapshotWriter& out) {
            replywatch::server::save_state(out, live, identity, {});
          })) {
        return 1;
      }
    }
  }
  fmt::print("setup: {} events ({} a day) logged ({:.1f} MB), snapshot after {}, in {:.1f} s\n",
             events, per_day, static_cast<double>(log->stats().size_bytes) / 1e6, snapshot_at,
             seconds_since(setup));

  auto restore = [&](const replywatch::server::SnapshotStore& store) {
    replywatch::server::StateRebuild::Inputs inputs;
    inputs.rules = rules;
    inputs.identity = identity;
    inputs.new_host = [](std::shared_ptr<const replywatch::RuleSet> r) {
      return std::make_unique<EngineHost>(std::move(r), replywatch::EngineOptions{}, 1000);
    };
    inputs.log = log.get();
    inputs.read_options.now = time.now() + std::chrono::days(3650);
    inputs.logger = &logger;
    const auto start = BenchClock::now();
    storage::LogError read_error;
    auto rebuild = replywatch::server::StateRebuild::restore(std::move(inputs), store, read_error);
    if (!rebuild) return -1.0;
    const double loaded_s = seconds_since(start);
    while (rebuild->step(4096, log->next_sequence()) ==
           replywatch::server::StateRebuild::Progress::kMore) {
    }
    const double total = seconds_since(start);
    fmt::print("  {}: snapshot {:.3f} s, {} log records, total {:.3f} s\n",
               rebuild->report().snapshot_path.empty() ? "log alone" : "snapshot + tail", loaded_s,
               rebuild->report().records, total);
    return total;
  };
  fmt::print("restart with {} events in the log:\n", events);
  const double with_snapshot = restore(snapshots);
  if (baseline) {
    const replywatch::server::SnapshotStore none(dir + "/no-snapshots");
    const double alone = restore(none);
    fmt::print("  ratio: {:.2f}x of the log alone\n", with_snapshot / alone);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

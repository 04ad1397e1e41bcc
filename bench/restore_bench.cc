// Restart time with N events in the event log (default 10 M): the newest snapshot plus the log
// records after it (default 1 M, the default snapshot_every_events, so the worst case between
// two snapshots), against the log alone, measured in the same run.
//
// Each restart is also taken apart (wall and CPU seconds, so that a run on a busy machine still
// says where the time goes): mapping and checking the snapshot (read + CRC-32C), decoding it
// into a host, reading and decoding the log tail alone, and the whole restart as the daemon
// does it (StateRebuild), whose remainder is the engine applying the tail.
//
//   build/bench/restore_bench [--events N] [--tail T] [--dir DIR] [--no-baseline]
//                             [--keep] [--reuse] [--repeat R] [--end-before-now]
// --keep leaves the data directory; --reuse restarts from one left by --keep (same N and T)
// instead of writing it again; --repeat restarts R times and prints the medians.
// --end-before-now ends the stream an hour before now instead of starting it on 2026-11-22, so
// that a real daemon can start on the kept directory (bench/reload_bench.py does); --keep also
// writes the rules to DIR/rules/bench.yaml for it.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
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

// CPU seconds of this process (every thread).
double cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Phase {
  double wall = 0;
  double cpu = 0;
};

template <typename Body>
Phase timed(Body body) {
  const auto start = BenchClock::now();
  const double cpu_start = cpu_seconds();
  body();
  return {seconds_since(start), cpu_seconds() - cpu_start};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
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
  bool keep = false;
  bool reuse = false;
  bool end_before_now = false;
  int repeat = 1;
  const std::uint64_t per_day = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-baseline") baseline = false;
    if (flag == "--keep") keep = true;
    if (flag == "--reuse") reuse = true;
    if (flag == "--end-before-now") end_before_now = true;
    if (i + 1 >= argc) continue;
    if (flag == "--events")
      events = std::stoull(argv[++i]);
    else if (flag == "--tail")
      tail = std::stoull(argv[++i]);
    else if (flag == "--dir")
      dir = argv[++i];
    else if (flag == "--repeat")
      repeat = std::max(1, std::stoi(argv[++i]));
  }
  auto loaded = replywatch::load_rule_text(kRules, "bench.yaml");
  if (!loaded.ok()) return 1;
  const auto rules = std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
  const auto identity = replywatch::rule_set_identity(*rules, std::chrono::hours(24), 1000);
  BenchTime time;
  const replywatch::server::Logger logger(time);
  reuse = reuse && std::filesystem::exists(dir + "/log");
  if (!reuse) std::filesystem::remove_all(dir);

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
  // A pair of events every 2 days / per_day.
  const Duration spacing = Duration(static_cast<std::int64_t>(2 * 86'400'000 / per_day));
  const Instant t0 = end_before_now ? time.now() - std::chrono::hours(1) -
                                          spacing * static_cast<std::int64_t>(events / 2 + 1)
                                    : Instant(Duration(1795359600000));
  const std::uint64_t snapshot_at = events > tail ? events - tail : 0;
  const auto setup = BenchClock::now();
  if (!reuse) {
    EngineHost live(rules, {}, 1000);
    std::vector<Event> request;
    std::vector<std::future<storage::AppendOutcome>> pending;
    for (std::uint64_t i = 0; i < events;) {
      request.clear();
      for (int k = 0; k < 1000 && i < events; ++k, ++i) {
        request.push_back(event_at(i, t0, spacing));
      }
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
  }
  std::error_code list_error;
  const auto files = snapshots.list(list_error);
  fmt::print(
      "setup: {} events ({} a day) logged ({:.1f} MB), snapshot after {} ({:.1f} MB), {} in "
      "{:.1f} s\n",
      log->next_sequence() - 1, per_day, static_cast<double>(log->stats().size_bytes) / 1e6,
      files.empty() ? 0 : files.front().sequence - 1,
      files.empty() ? 0.0
                    : static_cast<double>(std::filesystem::file_size(files.front().path)) / 1e6,
      reuse ? "reused" : "written", seconds_since(setup));

  auto new_host = [](std::shared_ptr<const replywatch::RuleSet> r) {
    return std::make_unique<EngineHost>(std::move(r), replywatch::EngineOptions{}, 1000);
  };
  storage::ReadOptions read_options;
  read_options.now = time.now() + std::chrono::days(3650);

  struct Figures {
    std::vector<double> map_wall, map_cpu, decode_wall, decode_cpu, tail_read_wall, tail_read_cpu,
        total_wall, total_cpu, loaded_wall;
  };
  // The parts first, each on its own, then the whole restart as the daemon does it.
  auto restore = [&](const replywatch::server::SnapshotStore& store, Figures& figures) {
    const auto newest = store.list(list_error);
    std::uint64_t from = log->first_sequence();
    if (!newest.empty()) {
      std::unique_ptr<replywatch::server::LoadedSnapshot> snapshot;
      const Phase map = timed([&] {
        std::string problem;
        snapshot = store.read(newest.front(), problem);
      });
      if (!snapshot) return false;
      from = snapshot->sequence();
      const Phase decode = timed([&] {
        auto host = new_host(rules);
        replywatch::server::UnloggedCounts unlogged;
        replywatch::SnapshotReader in(snapshot->payload());
        replywatch::server::load_state(in, *host, identity, unlogged);
      });
      figures.map_wall.push_back(map.wall);
      figures.map_cpu.push_back(map.cpu);
      figures.decode_wall.push_back(decode.wall);
      figures.decode_cpu.push_back(decode.cpu);
    }
    const Phase tail_read = timed([&] {
      storage::LogError read_error;
      auto reader = log->read_from(from, read_options, read_error);
      std::vector<storage::LoggedRecord> batch;
      while (reader && reader->read(4096, log->next_sequence(), batch, read_error)) batch.clear();
    });
    figures.tail_read_wall.push_back(tail_read.wall);
    figures.tail_read_cpu.push_back(tail_read.cpu);

    replywatch::server::StateRebuild::Inputs inputs;
    inputs.rules = rules;
    inputs.identity = identity;
    inputs.new_host = new_host;
    inputs.log = log.get();
    inputs.read_options = read_options;
    inputs.logger = &logger;
    std::uint64_t records = 0;
    bool ok = true;
    double loaded_at = 0;
    const auto start = BenchClock::now();
    const Phase total = timed([&] {
      storage::LogError read_error;
      auto rebuild =
          replywatch::server::StateRebuild::restore(std::move(inputs), store, read_error);
      loaded_at = seconds_since(start);
      if (!rebuild) {
        ok = false;
        return;
      }
      while (rebuild->step(4096, log->next_sequence()) ==
             replywatch::server::StateRebuild::Progress::kMore) {
      }
      records = rebuild->report().records;
    });
    figures.total_wall.push_back(total.wall);
    figures.total_cpu.push_back(total.cpu);
    figures.loaded_wall.push_back(loaded_at);
    fmt::print("  {}: snapshot {:.3f} s, {} log records, total {:.3f} s ({:.3f} s CPU)\n",
               newest.empty() ? "log alone" : "snapshot + tail", loaded_at, records, total.wall,
               total.cpu);
    return ok;
  };
  auto report = [&](const char* what, const Figures& f) {
    fmt::print("{}, median of {} (wall s / CPU s):\n", what, f.total_wall.size());
    if (!f.map_wall.empty()) {
      fmt::print("  snapshot: map + check CRC   {:8.3f} / {:8.3f}\n", median(f.map_wall),
                 median(f.map_cpu));
      fmt::print("  snapshot: decode into host  {:8.3f} / {:8.3f}\n", median(f.decode_wall),
                 median(f.decode_cpu));
    }
    fmt::print("  log tail: read + decode     {:8.3f} / {:8.3f}\n", median(f.tail_read_wall),
               median(f.tail_read_cpu));
    fmt::print("  restart as the daemon does  {:8.3f} / {:8.3f} (its snapshot load {:.3f} s)\n",
               median(f.total_wall), median(f.total_cpu), median(f.loaded_wall));
  };
  fmt::print("restart with {} events in the log:\n", log->next_sequence() - 1);
  Figures with_snapshot;
  for (int r = 0; r < repeat; ++r) {
    if (!restore(snapshots, with_snapshot)) return 1;
  }
  report("snapshot + tail", with_snapshot);
  if (baseline) {
    const replywatch::server::SnapshotStore none(dir + "/no-snapshots");
    Figures alone;
    if (!restore(none, alone)) return 1;
    report("log alone", alone);
    fmt::print("  ratio: {:.2f}x of the log alone\n",
               median(with_snapshot.total_wall) / median(alone.total_wall));
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  fmt::print("peak RSS {:.0f} MB, {} page faults\n", static_cast<double>(usage.ru_maxrss) / 1024,
             usage.ru_minflt);
  log.reset();
  if (keep) {
    std::filesystem::create_directories(dir + "/rules");
    std::FILE* file = std::fopen((dir + "/rules/bench.yaml").c_str(), "w");
    if (file == nullptr) return 1;
    std::fputs(kRules, file);
    std::fclose(file);
  } else {
    std::filesystem::remove_all(dir);
  }
  return 0;
}

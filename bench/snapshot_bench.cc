// Snapshot cost at N open rounds (default 1 000 000): how long the event loop stalls to start a
// snapshot in the background, two ways, and what writing and restoring one costs.
//
// - fork: the event loop's stall is the fork() call (page tables copied); the child serialises
//   and writes the file. Also timed: offering a batch of events in the parent right after the
//   fork, against the same batch with no child, since copy-on-write faults land there.
// - copy: the least a "compact copy handed to a writer thread" costs on the loop, measured as
//   serialising the whole state into memory (a copy must read all of it too).
// Restore: reading, verifying and loading the newest snapshot file into a fresh host.
//
//   build/bench/snapshot_bench [--open-rounds N] [--repeat R] [--dir DIR]
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine_host.h"
#include "forked_snapshot.h"
#include "replywatch/rule_fingerprint.h"
#include "replywatch/rule_loader.h"
#include "replywatch/snapshot_codec.h"
#include "snapshot_store.h"
#include "state_snapshot.h"

namespace {

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;
using replywatch::SnapshotReader;
using replywatch::SnapshotWriter;
using replywatch::server::EngineHost;
using replywatch::server::ForkedSnapshot;
using replywatch::server::SnapshotStore;

// Bench timing is the one place outside the daemon's clock interface that reads a clock: it
// measures this process, not event time.
using BenchClock = std::chrono::steady_clock;

double ms_since(BenchClock::time_point start) {
  return std::chrono::duration<double, std::milli>(BenchClock::now() - start).count();
}

// Page faults this process (not its children) took so far: copy-on-write after a fork shows here.
double minor_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

constexpr const char* kRules = R"(
platform: bench
timezone: UTC
slas:
  - name: reply_1d
    kind: reply_time
    deadline: 1d
    warn_before: 1h
    objective: 0.9
  - name: avg
    kind: average_response
    max_average: 1h
    unanswered_cost: 2d
)";

Event buyer(std::size_t i, Instant ts) {
  Event event;
  event.id = fmt::format("e{}", i);
  event.platform = "bench";
  event.shop = fmt::format("shop{}", i % 1000);
  event.conversation = fmt::format("buyer-{}", i);
  event.type = EventType::kBuyerMessage;
  event.ts = ts;
  return event;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t open_rounds = 1'000'000;
  int repeat = 5;
  std::string dir = "/tmp/replywatch-snapshot-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--open-rounds") open_rounds = std::stoul(argv[i + 1]);
    if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
  }
  auto loaded = replywatch::load_rule_text(kRules, "bench.yaml");
  if (!loaded.ok()) return 1;
  const auto rules = std::make_shared<const replywatch::RuleSet>(std::move(loaded.rules));
  const auto identity = replywatch::rule_set_identity(*rules, std::chrono::hours(24), 0);

  EngineHost host(rules, {}, 0);
  const Instant t0 = Instant(Duration(1795359600000));
  std::size_t next_event = 0;
  for (; next_event < open_rounds; ++next_event) {
    const Instant ts = t0 + Duration(next_event);
    host.offer(buyer(next_event, ts));
    if (next_event % 1000 == 0) host.engine().advance(ts);
  }
  host.engine().advance(t0 + Duration(open_rounds));
  const auto stats = host.engine().memory_stats();
  fmt::print("state: {} open rounds, {} conversations, {} timers, {} dedup entries\n",
             stats.open_rounds, stats.conversations, stats.timers, stats.dedup_entries);

  std::filesystem::remove_all(dir);
  const SnapshotStore store(dir);
  if (store.prepare()) return 1;
  auto write = [&](std::uint64_t sequence) {
    return store.write(sequence, Instant{}, [&](SnapshotWriter& out) {
      replywatch::server::save_state(out, host, identity, {});
    });
  };
  // A batch the event loop might be offering while the child writes.
  auto offer_batch = [&] {
    const auto start = BenchClock::now();
    for (int k = 0; k < 10'000; ++k, ++next_event) {
      host.offer(buyer(next_event, t0 + Duration(next_event)));
    }
    host.engine().advance(t0 + Duration(next_event));
    return ms_since(start);
  };

  std::vector<double> fork_ms, child_ms, batch_after_fork_ms, batch_alone_ms, copy_ms, load_ms;
  std::vector<double> faults_after_fork, faults_alone;
  std::uintmax_t file_bytes = 0;
  for (int r = 0; r < repeat; ++r) {
    ForkedSnapshot child;
    const auto forked = BenchClock::now();
    if (child.start([&] { return write(static_cast<std::uint64_t>(r)); })) return 1;
    fork_ms.push_back(ms_since(forked));
    double faults = minor_faults();
    batch_after_fork_ms.push_back(offer_batch());
    faults_after_fork.push_back(minor_faults() - faults);
    if (child.wait()) return 1;
    child_ms.push_back(ms_since(forked));
    faults = minor_faults();
    batch_alone_ms.push_back(offer_batch());
    faults_alone.push_back(minor_faults() - faults);

    const auto copy_start = BenchClock::now();
    std::string bytes;
    SnapshotWriter out([&](std::string_view piece) { bytes.append(piece); });
    replywatch::server::save_state(out, host, identity, {});
    out.flush();
    copy_ms.push_back(ms_since(copy_start));

    std::error_code error;
    const auto newest = store.list(error).at(0);
    file_bytes = std::filesystem::file_size(newest.path);
    const auto load_start = BenchClock::now();
    std::string problem;
    const auto snapshot = store.read(newest, problem);
    EngineHost restored(rules, {}, 0);
    replywatch::server::UnloggedCounts unlogged;
    SnapshotReader in(snapshot->payload());
    if (replywatch::server::load_state(in, restored, identity, unlogged) !=
        replywatch::server::StateLoad::kLoaded) {
      return 1;
    }
    load_ms.push_back(ms_since(load_start));
  }
  fmt::print("snapshot at {} open rounds, median of {}:\n", open_rounds, repeat);
  fmt::print("  fork: event-loop stall (fork call)        {:9.2f} ms\n", median(fork_ms));
  fmt::print("  fork: 10k-event batch right after fork    {:9.2f} ms (alone: {:.2f} ms)\n",
             median(batch_after_fork_ms), median(batch_alone_ms));
  fmt::print("  fork: page faults in that batch           {:9.0f}    (alone: {:.0f})\n",
             median(faults_after_fork), median(faults_alone));
  fmt::print("  fork: child serialises + writes + syncs   {:9.2f} ms\n", median(child_ms));
  fmt::print("  copy: serialise on the loop (lower bound) {:9.2f} ms\n", median(copy_ms));
  fmt::print("  restore: read + verify + load             {:9.2f} ms\n", median(load_ms));
  fmt::print("  file: {:.1f} MB ({:.1f} bytes per open round)\n",
             static_cast<double>(file_bytes) / 1e6,
             static_cast<double>(file_bytes) / static_cast<double>(open_rounds));
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  fmt::print("  peak RSS {:.0f} MB\n", static_cast<double>(usage.ru_maxrss) / 1024);
  std::filesystem::remove_all(dir);
  return 0;
}

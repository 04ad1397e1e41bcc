#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "local_event_log.h"
#include "replywatch/replay_session.h"
#include "replywatch/rule_loader.h"
#include "time_source.h"

namespace replywatch::cli {
namespace {

constexpr const char* kReplayUsage =
    "usage: replywatch replay [--rules DIR] [--until TS] [--format json|table]\n"
    "                         [--allowed-lateness DURATION] [--dedup-retention DURATION]\n"
    "                         [--max-shops N]\n"
    "                         FILE... | --journal DATA_DIR\n"
    "\n"
    "Runs the rule engine on recorded events (NDJSON, one event per line; FILE '-' is standard\n"
    "input), or on the event log of a daemon's data directory (read only: no lock taken, nothing\n"
    "cut, so it works while the daemon runs; time advances as it did in the daemon), and prints\n"
    "the state at --until.\n"
    "\n"
    "  --rules DIR                  rule directory (default: rules)\n"
    "  --until TS                   RFC 3339 or epoch milliseconds (default: the largest ts\n"
    "                               among accepted events); later events are counted, not applied\n"
    "  --format json|table          output format (default: table)\n"
    "  --journal DATA_DIR           read the event log in DATA_DIR/log instead of FILEs\n"
    "  --allowed-lateness DURATION  reorder window (default: 2s)\n"
    "  --dedup-retention DURATION   how long an event id makes copies duplicates (default: 24h)\n"
    "  --max-shops N                shops per platform without an allow-list, as in run\n"
    "                               (default: 1000; 0: no limit)\n"
    "  --help                       this text\n"
    "  --version                    print the version\n";

// Rejected lines named on stderr before only a count is kept.
constexpr int kRejectedLinesShown = 10;
constexpr std::size_t kLogRecordsPerRead = 4096;

struct ReplayArguments {
  std::string rules = "rules";
  std::string format = "table";
  ReplayOptions options;
  std::vector<std::string> files;
  std::optional<std::string> journal;  // a data directory
};

std::optional<Instant> parse_until(const std::string& text) {
  if (auto instant = parse_rfc3339(text)) return instant;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
      text.size() <= 15) {
    const std::int64_t millis = std::stoll(text);
    if (millis <= kMaxEpochMillis) return Instant(Duration(millis));
  }
  return std::nullopt;
}

int print_report(const ReplayReport& report, const std::string& format) {
  const std::string text =
      format == "json" ? format_report_json(report) : format_report_table(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

// Feeds every record of DATA_DIR's event log, in log order, advancing the engine to the
// watermarks the daemon recorded, so the report is what the daemon's engine holds.
int replay_event_log(const std::string& data_directory, ReplaySession& session) {
  const std::string directory = (std::filesystem::path(data_directory) / "log").string();
  std::error_code code;
  if (!std::filesystem::is_directory(directory, code)) {
    fmt::print(stderr, "replywatch replay: no event log in {} (expected {})\n", data_directory,
               directory);
    return kExitUsage;
  }
  storage::ReadOptions options;
  options.now = server::SystemTimeSource().now();
  // Generous: this reads what a daemon with any max_future_skew wrote; only the impossible is
  // refused.
  options.max_future_skew = std::chrono::hours(24 * 366);
  storage::LogError error;
  auto reader = storage::LocalEventLog::read_only(directory, 1, options, error);
  if (!reader) {
    fmt::print(stderr, "replywatch replay: {}\n", error.message);
    return kExitFailed;
  }
  std::vector<storage::LoggedRecord> chunk;
  std::uint64_t rejected = 0;
  for (bool more = true; more;) {
    chunk.clear();
    more = reader->read(kLogRecordsPerRead, UINT64_MAX, chunk, error);
    for (storage::LoggedRecord& logged : chunk) {
      const std::optional<Rejection> rejection = session.feed_logged(
          std::move(logged.record.event), logged.record.watermark, logged.record.continues_batch);
      if (rejection && ++rejected <= kRejectedLinesShown) {
        fmt::print(stderr, "{} record {}: rejected: {}\n", directory, logged.sequence,
                   reject_reason_name(rejection->reason));
      }
    }
  }
  if (error) {
    fmt::print(stderr, "replywatch replay: {}\n", error.message);
    return kExitFailed;
  }
  if (rejected > kRejectedLinesShown) {
    fmt::print(stderr, "... and {} more rejected records\n", rejected - kRejectedLinesShown);
  }
  return kExitOk;
}

}  // namespace

int run_replay(const std::vector<std::string>& args) {
  ReplayArguments parsed;
  auto usage_error = [](const std::string& message) {
    fmt::print(stderr, "replywatch replay: {}\n\n{}", message, kReplayUsage);
    return kExitUsage;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string name = arg;
    std::optional<std::string> value;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      name = arg.substr(0, arg.find('='));
      value = arg.substr(arg.find('=') + 1);
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (name == "--help" || name == "-h") {
      fmt::print("{}", kReplayUsage);
      return kExitOk;
    }
    if (name == "--version") {
      fmt::print("{}\n", version_line());
      return kExitOk;
    }
    if (name == "--rules" || name == "--until" || name == "--format" ||
        name == "--allowed-lateness" || name == "--dedup-retention" || name == "--max-shops" ||
        name == "--journal") {
      const std::optional<std::string> text = take_value();
      if (!text) return usage_error(fmt::format("{} needs a value", name));
      if (name == "--journal") {
        parsed.journal = *text;
      } else if (name == "--rules") {
        parsed.rules = *text;
      } else if (name == "--format") {
        if (*text != "json" && *text != "table") {
          return usage_error(fmt::format("--format must be json or table, not \"{}\"", *text));
        }
        parsed.format = *text;
      } else if (name == "--max-shops") {
        if (text->empty() || text->size() > 8 ||
            text->find_first_not_of("0123456789") != std::string::npos) {
          return usage_error(fmt::format("--max-shops: not a shop count: \"{}\"", *text));
        }
        parsed.options.max_shops = static_cast<std::uint32_t>(std::stoul(*text));
      } else if (name == "--until") {
        parsed.options.until = parse_until(*text);
        if (!parsed.options.until) {
          return usage_error(
              fmt::format("--until: not an RFC 3339 time or epoch ms: \"{}\"", *text));
        }
      } else {
        const std::optional<Duration> duration = parse_duration(*text);
        if (!duration) return usage_error(fmt::format("{}: bad duration \"{}\"", name, *text));
        (name == "--allowed-lateness" ? parsed.options.allowed_lateness
                                      : parsed.options.dedup_retention) = *duration;
      }
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-')
      return usage_error(fmt::format("unknown option \"{}\"", arg));
    parsed.files.push_back(arg);
  }
  if (parsed.files.empty() && !parsed.journal) {
    return usage_error("no input FILE (use - for standard input) and no --journal DATA_DIR");
  }
  if (!parsed.files.empty() && parsed.journal) {
    return usage_error("give FILEs or --journal DATA_DIR, not both");
  }

  RuleLoadResult loaded = load_rule_directory(parsed.rules);
  if (!loaded.ok()) {
    for (const RuleError& error : loaded.errors) fmt::print(stderr, "{}\n", error.to_string());
    fmt::print(stderr, "replywatch replay: {} error(s) in {}; nothing replayed\n",
               loaded.errors.size(), parsed.rules);
    return kExitFailed;
  }

  // Open everything first, so a typo in the last name fails before any work is done.
  std::vector<std::unique_ptr<std::ifstream>> streams;
  for (const std::string& file : parsed.files) {
    if (file == "-") {
      streams.push_back(nullptr);
      continue;
    }
    auto stream = std::make_unique<std::ifstream>(file, std::ios::binary);
    if (!*stream) {
      fmt::print(stderr, "replywatch replay: cannot read {}\n", file);
      return kExitUsage;
    }
    streams.push_back(std::move(stream));
  }

  ReplaySession session(std::make_shared<const RuleSet>(std::move(loaded.rules)), parsed.options);
  if (parsed.journal) {
    if (const int failed = replay_event_log(*parsed.journal, session)) return failed;
    return print_report(session.finish(), parsed.format);
  }
  std::uint64_t rejected_lines = 0;
  std::string line;
  for (std::size_t f = 0; f < parsed.files.size(); ++f) {
    std::istream& input = streams[f] ? static_cast<std::istream&>(*streams[f]) : std::cin;
    const std::string& name = parsed.files[f] == "-" ? std::string("<stdin>") : parsed.files[f];
    std::uint64_t line_number = 0;
    while (std::getline(input, line)) {
      ++line_number;
      const std::optional<Rejection> rejection = session.feed_line(line);
      if (!rejection) continue;
      if (++rejected_lines <= kRejectedLinesShown) {
        fmt::print(stderr, "{}:{}: rejected: {}{}\n", name, line_number,
                   reject_reason_name(rejection->reason),
                   rejection->field.empty() ? "" : fmt::format(" ({})", rejection->field));
      }
    }
    if (input.bad()) {
      fmt::print(stderr, "replywatch replay: error reading {}\n", name);
      return kExitFailed;
    }
  }
  if (rejected_lines > kRejectedLinesShown) {
    fmt::print(stderr, "... and {} more rejected lines\n", rejected_lines - kRejectedLinesShown);
  }
  return print_report(session.finish(), parsed.format);
}

}  // namespace replywatch::cli

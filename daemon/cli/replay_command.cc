#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "replywatch/replay_session.h"
#include "replywatch/rule_loader.h"

namespace replywatch::cli {
namespace {

constexpr const char* kReplayUsage =
    "usage: replywatch replay [--rules DIR] [--until TS] [--format json|table]\n"
    "                         [--allowed-lateness DURATION] [--dedup-retention DURATION]\n"
    "                         [--max-shops N]\n"
    "                         FILE...\n"
    "\n"
    "Runs the rule engine on recorded events (NDJSON, one event per line; FILE '-' is standard\n"
    "input) and prints the state at --until.\n"
    "\n"
    "  --rules DIR                  rule directory (default: rules)\n"
    "  --until TS                   RFC 3339 or epoch milliseconds (default: the largest ts\n"
    "                               among accepted events); later events are counted, not applied\n"
    "  --format json|table          output format (default: table)\n"
    "  --allowed-lateness DURATION  reorder window (default: 2s)\n"
    "  --dedup-retention DURATION   how long an event id makes copies duplicates (default: 24h)\n"
    "  --max-shops N                shops per platform without an allow-list, as in run\n"
    "                               (default: 1000; 0: no limit)\n"
    "  --help                       this text\n"
    "  --version                    print the version\n";

// Rejected lines named on stderr before only a count is kept.
constexpr int kRejectedLinesShown = 10;

struct ReplayArguments {
  std::string rules = "rules";
  std::string format = "table";
  ReplayOptions options;
  std::vector<std::string> files;
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
        name == "--allowed-lateness" || name == "--dedup-retention" || name == "--max-shops") {
      const std::optional<std::string> text = take_value();
      if (!text) return usage_error(fmt::format("{} needs a value", name));
      if (name == "--rules") {
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
  if (parsed.files.empty()) return usage_error("no input FILE (use - for standard input)");

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
  const ReplayReport report = session.finish();
  const std::string text =
      parsed.format == "json" ? format_report_json(report) : format_report_table(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace replywatch::cli

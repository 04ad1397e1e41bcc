// `replywatch adapt`: a help desk's saved webhook bodies through a configured adapter, out as
// the events NDJSON `replay` reads (docs/adapters.md, "Back-testing on a help desk's history").
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "adapter_config.h"
#include "commands.h"
#include "daemon_config.h"

namespace replywatch::cli {
namespace {

constexpr const char* kAdaptUsage =
    "usage: replywatch adapt NAME --config FILE [--dry-run] FILE...\n"
    "\n"
    "Maps saved webhook bodies through the adapter NAME of the daemon's config FILE and writes\n"
    "the events as NDJSON on standard output, for `replywatch replay`. A FILE holding one JSON\n"
    "value is one body; otherwise each non-blank line is one body (NDJSON). FILE '-' is\n"
    "standard input. Signatures are not checked: the bodies are trusted files. A body the\n"
    "adapter refuses is named on standard error (FILE:LINE: reason at POINTER) and the exit\n"
    "code is 1; the other bodies' events are still written.\n"
    "\n"
    "  --config FILE  the daemon's config file, with the `adapters:` list\n"
    "  --dry-run      write no events; print each body's event count on standard error\n"
    "  --help         this text\n";

struct Body {
  std::size_t line;  // 1-based, of the body's first line
  std::string text;
};

// A file of one JSON value is one body (pretty-printed is fine); anything else is NDJSON.
std::vector<Body> bodies_of(const std::string& text) {
  boost::system::error_code error;
  boost::json::parse(text, error);
  if (!error) return {{1, text}};
  std::vector<Body> bodies;
  std::istringstream lines(text);
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    bodies.push_back({number, line});
  }
  return bodies;
}

}  // namespace

int run_adapt(const std::vector<std::string>& args) {
  std::optional<std::string> name;
  std::optional<std::string> config_path;
  bool dry_run = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kAdaptUsage, stdout);
      return kExitOk;
    }
    if (arg == "--config") {
      if (i + 1 == args.size()) {
        fmt::print(stderr, "replywatch adapt: --config needs a FILE\n\n{}", kAdaptUsage);
        return kExitUsage;
      }
      config_path = args[++i];
    } else if (arg == "--dry-run") {
      dry_run = true;
    } else if (arg.starts_with("--")) {
      fmt::print(stderr, "replywatch adapt: unknown flag {}\n\n{}", arg, kAdaptUsage);
      return kExitUsage;
    } else if (!name) {
      name = arg;
    } else {
      files.push_back(arg);
    }
  }
  if (!name || !config_path || files.empty()) {
    fmt::print(stderr,
               "replywatch adapt: NAME, --config FILE and at least one FILE are needed\n\n{}",
               kAdaptUsage);
    return kExitUsage;
  }
  server::DaemonConfig config;
  const auto errors = server::load_config_file(*config_path, config);
  for (const std::string& error : errors) fmt::print(stderr, "{}\n", error);
  if (!errors.empty()) return kExitUsage;
  const adapters::ConfiguredAdapter* configured =
      config.adapters ? config.adapters->find(*name) : nullptr;
  if (configured == nullptr) {
    fmt::print(stderr, "replywatch adapt: {} has no adapter named \"{}\"\n", *config_path, *name);
    return kExitUsage;
  }

  int status = kExitOk;
  std::size_t total = 0;
  for (const std::string& file : files) {
    std::string text;
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        fmt::print(stderr, "replywatch adapt: cannot read {}\n", file);
        return kExitUsage;
      }
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (const Body& body : bodies_of(text)) {
      const adapters::AdapterRequest request{
          [](std::string_view) { return std::optional<std::string_view>{}; }, body.text, {}};
      auto mapped = configured->adapter->map(request);
      if (const auto* refusal = std::get_if<adapters::AdapterRefusal>(&mapped)) {
        fmt::print(stderr, "{}:{}: {} (at \"{}\")\n", file, body.line, refusal->reason,
                   refusal->pointer);
        status = kExitFailed;
        continue;
      }
      const auto& events = std::get<adapters::MappedEvents>(mapped);
      total += events.size();
      if (dry_run) {
        fmt::print(stderr, "{}:{}: {} event(s)\n", file, body.line, events.size());
        continue;
      }
      for (const auto& event : events) {
        std::string line = boost::json::serialize(event);
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
    }
  }
  if (dry_run) fmt::print(stderr, "{} event(s) in all\n", total);
  return status;
}

}  // namespace replywatch::cli

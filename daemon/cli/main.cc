#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"

namespace {

constexpr const char* kUsage =
    "usage: replywatch <command> [options]\n"
    "\n"
    "commands:\n"
    "  check [DIR]      validate the rule files in DIR (default: rules)\n"
    "  replay [FILE...] run the rule engine on recorded NDJSON events and report\n"
    "  run              run the daemon: webhook ingest, metrics, admin API\n"
    "  adapt NAME FILE... turn saved help-desk webhook bodies into NDJSON events for replay\n"
    "\n"
    "Run 'replywatch <command> --help' for a command's options.\n"
    "  --version        print the version and exit\n";

}  // namespace

namespace replywatch::cli {

std::string version_line() {
  return fmt::format("replywatch {} (revision {})", REPLYWATCH_VERSION, REPLYWATCH_REVISION);
}

}  // namespace replywatch::cli

int main(int argc, char** argv) {
  using namespace replywatch::cli;
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty()) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string& command = all.front();
  const std::vector<std::string> rest(all.begin() + 1, all.end());
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (command == "--version") {
      fmt::print("{}\n", version_line());
      return kExitOk;
    }
    if (command == "check") return run_check(rest);
    if (command == "replay") return run_replay(rest);
    if (command == "run") return run_daemon(rest);
    if (command == "adapt") return run_adapt(rest);
  } catch (const std::exception& error) {
    fmt::print(stderr, "replywatch {}: {}\n", command, error.what());
    return kExitFailed;
  }
  fmt::print(stderr, "replywatch: unknown command \"{}\"\n\n{}", command, kUsage);
  return kExitUsage;
}

#include <fmt/format.h>

#include "commands.h"
#include "replywatch/rule_loader.h"

namespace replywatch::cli {
namespace {

constexpr const char* kCheckUsage =
    "usage: replywatch check [DIR]\n"
    "\n"
    "Validates every *.yaml and *.yml rule file in DIR (default: rules). Prints each error as\n"
    "FILE:LINE:COL: message and exits 1 if there is any, 0 otherwise.\n"
    "\n"
    "  --help     this text\n"
    "  --version  print the version\n";

}  // namespace

int run_check(const std::vector<std::string>& args) {
  std::string directory = "rules";
  bool have_directory = false;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kCheckUsage);
      return kExitOk;
    }
    if (arg == "--version") {
      fmt::print("{}\n", version_line());
      return kExitOk;
    }
    if ((arg.size() > 1 && arg[0] == '-') || have_directory) {
      fmt::print(stderr, "replywatch check: unexpected argument \"{}\"\n\n{}", arg, kCheckUsage);
      return kExitUsage;
    }
    directory = arg;
    have_directory = true;
  }
  const RuleLoadResult result = load_rule_directory(directory);
  for (const RuleError& error : result.errors) fmt::print("{}\n", error.to_string());
  if (!result.ok()) {
    fmt::print(stderr, "{}: {} error{}\n", directory, result.errors.size(),
               result.errors.size() == 1 ? "" : "s");
    return kExitFailed;
  }
  std::size_t slas = 0;
  for (const PlatformRules& platform : result.rules.platforms) slas += platform.slas.size();
  fmt::print(stderr, "{}: {} rule file{} OK ({} SLAs)\n", directory, result.rules.platforms.size(),
             result.rules.platforms.size() == 1 ? "" : "s", slas);
  return kExitOk;
}

}  // namespace replywatch::cli

// The subcommands of the `replywatch` binary. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace replywatch::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // rule errors, or the command's own failure
inline constexpr int kExitUsage = 2;   // bad flags or unreadable inputs

int run_check(const std::vector<std::string>& args);
int run_replay(const std::vector<std::string>& args);
int run_daemon(const std::vector<std::string>& args);
int run_adapt(const std::vector<std::string>& args);

std::string version_line();

}  // namespace replywatch::cli

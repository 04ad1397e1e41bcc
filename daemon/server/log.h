// One line per thing worth knowing, on stderr: "TIME LEVEL message". systemd's journal keeps
// stderr, so the daemon needs nothing else.
#pragma once

#include <fmt/format.h>

#include <string_view>

#include "replywatch/time.h"
#include "time_source.h"

namespace replywatch::server {

enum class LogLevel { kInfo, kWarning, kError };

class Logger {
 public:
  explicit Logger(const TimeSource& time) : time_(time) {}

  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::kInfo, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warning(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::kWarning, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::kError, fmt::format(format, std::forward<Args>(args)...));
  }

  void write(LogLevel level, std::string_view message) const;

 private:
  const TimeSource& time_;
};

// Lets through one line per interval and counts the rest, so a flood of refused requests
// cannot flood the log.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(Duration interval) : interval_(interval) {}

  // True when a line may be written at `now`; `suppressed` is then the number of lines held
  // back since the last one.
  bool allow(Instant now, std::uint64_t& suppressed);

 private:
  Duration interval_;
  Instant last_ = kInstantMin;
  std::uint64_t held_back_ = 0;
};

}  // namespace replywatch::server

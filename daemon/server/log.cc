#include "log.h"

#include <cstdio>

namespace replywatch::server {

void Logger::write(LogLevel level, std::string_view message) const {
  std::string_view name = "info";
  if (level == LogLevel::kWarning) name = "warning";
  if (level == LogLevel::kError) name = "error";
  // One fwrite per line keeps lines whole even if another thread ever logs.
  const std::string line = fmt::format("{} {} {}\n", format_rfc3339(time_.now()), name, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

bool LogRateLimiter::allow(Instant now, std::uint64_t& suppressed) {
  if (last_ != kInstantMin && now - last_ < interval_) {
    ++held_back_;
    return false;
  }
  suppressed = held_back_;
  held_back_ = 0;
  last_ = now;
  return true;
}

}  // namespace replywatch::server

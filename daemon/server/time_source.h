// The daemon's only way to read the clock. Everything else gets time passed in, so tests and
// replay can drive the same code with instants of their choosing.
#pragma once

#include <chrono>

#include "replywatch/time.h"

namespace replywatch::server {

// Monotonic time: only differences mean anything.
using SteadyInstant = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // Wall-clock time. Can step (an operator, NTP at boot, a VM resumed).
  virtual Instant now() const = 0;
  // Elapsed time, which never steps.
  virtual SteadyInstant steady_now() const = 0;
};

class SystemTimeSource final : public TimeSource {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
  SteadyInstant steady_now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

}  // namespace replywatch::server

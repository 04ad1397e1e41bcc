// The daemon's only way to read the clock. Everything else gets time passed in, so tests and
// replay can drive the same code with instants of their choosing.
#pragma once

#include <chrono>

#include "replywatch/time.h"

namespace replywatch::server {

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // Wall-clock time, the daemon's event-time "now".
  virtual Instant now() const = 0;
};

class SystemTimeSource final : public TimeSource {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace replywatch::server

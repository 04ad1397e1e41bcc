// `replywatch run`: the I/O shell around one engine. One io_context thread owns everything:
// both listeners, the engine's timer, the journal, signals and reloads.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon_config.h"
#include "log.h"
#include "time_source.h"

namespace replywatch::server {

class Daemon {
 public:
  Daemon(DaemonConfig config, const TimeSource& time, const Logger& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code.
  int run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replywatch::server

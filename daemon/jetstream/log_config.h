// Where accepted events are kept: the `log` mapping of the daemon's config file
// (docs/operations.md, "The log mapping"). `local` is the data directory's event log;
// `jetstream` is a NATS JetStream stream shared by every daemon of a deployment
// (docs/scale-out.md):
//
//   log:
//     kind: jetstream
//     servers: [nats://10.0.0.1:4222, nats://10.0.0.2:4222, nats://10.0.0.3:4222]
//     stream: REPLYWATCH                  # default
//     subject_prefix: replywatch.events   # partition P is SUBJECT_PREFIX.P
//     partitions: 16                      # fixed for the stream's life
//     replicas: 3                         # used when the daemon creates the stream
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "replywatch/time.h"

namespace YAML {
class Node;
class Mark;
}  // namespace YAML

namespace replywatch::jetstream {

enum class LogKind : std::uint8_t { kLocal, kJetStream };

struct LogConfig {
  LogKind kind = LogKind::kLocal;
  std::vector<std::string> servers;  // nats://HOST:PORT, tried in this order
  std::string stream = "REPLYWATCH";
  std::string subject_prefix = "replywatch.events";
  std::uint32_t partitions = 16;
  std::uint32_t replicas = 1;
  // A request whose events are not all acknowledged by the stream within this is answered 503.
  Duration publish_timeout = std::chrono::seconds(5);
  // The longest pause between two reconnection attempts (the pause doubles from 100 ms).
  Duration reconnect_max_wait = std::chrono::seconds(2);

  bool jetstream() const { return kind == LogKind::kJetStream; }
  // SUBJECT_PREFIX.P
  std::string subject_of(std::uint32_t partition) const;
};

// The keys of the `log` mapping, in the order docs/operations.md lists them.
std::vector<std::string> log_config_keys();

// Reads the value of the `log` key over `config` (keys absent keep their value). Each problem is
// appended to `errors` as FILE:LINE:COL: message (`at` formats a position); on any problem
// `config` is left unchanged.
void read_log_config(const YAML::Node& value, LogConfig& config,
                     const std::function<std::string(const YAML::Mark&)>& at,
                     std::vector<std::string>& errors);

// Whether `text` is a stream name JetStream takes (no spaces, '.', '*', '>', '/' or '\\').
bool valid_stream_name(const std::string& text);
// Whether `text` is a subject without wildcards: dot-separated non-empty tokens, no spaces.
bool valid_subject_prefix(const std::string& text);

}  // namespace replywatch::jetstream

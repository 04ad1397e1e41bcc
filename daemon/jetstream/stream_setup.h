// The stream the events go to: created when missing (subjects SUBJECT_PREFIX.*, file storage,
// the configured replicas, max age and duplicate window from the rules and the dedup retention),
// used as it is otherwise. The partition count is fixed for the stream's life: it is recorded in
// the stream's description when the daemon creates it, and a daemon configured with another
// count refuses to start (its events would land on other partitions than the consumers read).
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log_config.h"
#include "replywatch/time.h"

namespace replywatch::jetstream {

struct StreamNeeds {
  // How long the stream must keep events: the longest rule window plus the dedup retention (a
  // reload re-derives windows from the stream; a consumer's restart reads from its snapshot).
  Duration max_age{};
  // How long JetStream recognises a Nats-Msg-Id again: the dedup retention.
  Duration dedup_retention{};
};

// The stream's settings when the daemon creates it. Pure, for the tests.
struct StreamPlan {
  std::string description;  // carries the partition count (partition_marker)
  std::string subjects;     // SUBJECT_PREFIX.*
  Duration max_age{};
  Duration duplicate_window{};
};
StreamPlan plan_stream(const LogConfig& config, const StreamNeeds& needs);

// "replywatch partitions=N", the marker in the stream's description.
std::string partition_marker(std::uint32_t partitions);
// The count a description records, if it holds the marker.
std::optional<std::uint32_t> recorded_partitions(std::string_view description);

enum class StreamSetupStatus : std::uint8_t {
  kCreated,
  kExisting,
  kUnavailable,  // JetStream did not answer (no connection, below quorum): try again later
  kRefused,      // the stream exists but cannot be used as configured: do not start
};

struct StreamSetupResult {
  StreamSetupStatus status = StreamSetupStatus::kUnavailable;
  std::string message;                // why, for kUnavailable and kRefused
  std::vector<std::string> warnings;  // an existing stream that keeps less than needed
  bool usable() const {
    return status == StreamSetupStatus::kCreated || status == StreamSetupStatus::kExisting;
  }
};

// Looks the stream up and creates it when missing; `wait` bounds each JetStream request.
StreamSetupResult ensure_stream(jsCtx* context, const LogConfig& config, const StreamNeeds& needs,
                                Duration wait);

}  // namespace replywatch::jetstream

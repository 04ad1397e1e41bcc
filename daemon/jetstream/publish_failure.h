// Why an event's publish to the stream failed: a closed set, because each value is a `reason`
// label of replywatch_jetstream_publish_failures_total. Failures are named only through this
// enum, and the daemon registers one counter per value, so a new reason cannot go uncounted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace replywatch::jetstream {

enum class PublishFailure : std::uint8_t {
  kNotConnected,  // no connection to any NATS server when the request came
  kTimeout,       // no acknowledgement within log.publish_timeout (below quorum, a lost server)
  kStreamError,   // the stream answered with an error (e.g. no stream for the subject)
  kClientError,   // nats.c refused the publish (connection closing, buffers full)
};

inline constexpr std::size_t kPublishFailureCount = 4;

// The metric label value, e.g. "timeout".
std::string_view publish_failure_label(PublishFailure failure);
// A short description for the log and the client.
std::string_view publish_failure_text(PublishFailure failure);

}  // namespace replywatch::jetstream

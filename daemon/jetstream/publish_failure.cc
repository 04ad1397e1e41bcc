#include "publish_failure.h"

#include <array>

namespace replywatch::jetstream {
namespace {

struct Entry {
  PublishFailure failure;
  std::string_view label;
  std::string_view text;
};

// The one table: label and text of every failure, in enum order.
constexpr std::array<Entry, kPublishFailureCount> kFailures = {{
    {PublishFailure::kNotConnected, "not_connected", "not connected to any NATS server"},
    {PublishFailure::kTimeout, "timeout",
     "the stream did not acknowledge within log.publish_timeout"},
    {PublishFailure::kStreamError, "stream_error", "the stream refused the event"},
    {PublishFailure::kClientError, "client_error", "the NATS client could not send the event"},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kFailures.size(); ++i) {
    if (static_cast<std::size_t>(kFailures[i].failure) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kFailures must list every PublishFailure in enum order");

}  // namespace

std::string_view publish_failure_label(PublishFailure failure) {
  return kFailures[static_cast<std::size_t>(failure)].label;
}

std::string_view publish_failure_text(PublishFailure failure) {
  return kFailures[static_cast<std::size_t>(failure)].text;
}

}  // namespace replywatch::jetstream

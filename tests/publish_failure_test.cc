// The closed set of publish failures (daemon/jetstream/publish_failure.h): one table, unique
// labels that are valid Prometheus label values, a text for each.
#include "publish_failure.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

using namespace replywatch::jetstream;

TEST_CASE("publish_failure: every failure has a unique label and a text", "[publish_failure]") {
  std::set<std::string> labels;
  for (std::size_t i = 0; i < kPublishFailureCount; ++i) {
    const auto failure = static_cast<PublishFailure>(i);
    const std::string label(publish_failure_label(failure));
    CHECK_FALSE(label.empty());
    CHECK(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
    CHECK_FALSE(publish_failure_text(failure).empty());
    labels.insert(label);
  }
  CHECK(labels.size() == kPublishFailureCount);
  CHECK(publish_failure_label(PublishFailure::kTimeout) == "timeout");
  CHECK(publish_failure_label(PublishFailure::kNotConnected) == "not_connected");
}

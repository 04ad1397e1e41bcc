// RefusalReason: one table of label and text, so every reason is a distinct, countable label.
#include "refusal_reason.h"

#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <string>

using replywatch::server::kRefusalReasonCount;
using replywatch::server::refusal_label;
using replywatch::server::refusal_text;
using replywatch::server::RefusalReason;

TEST_CASE("refusal reasons: every value has a distinct Prometheus-safe label and a text",
          "[refusal]") {
  std::set<std::string> labels;
  const std::regex label_shape("[a-z][a-z_]*");
  for (std::size_t r = 0; r < kRefusalReasonCount; ++r) {
    const auto reason = static_cast<RefusalReason>(r);
    const std::string label(refusal_label(reason));
    INFO(label);
    CHECK(std::regex_match(label, label_shape));
    CHECK_FALSE(refusal_text(reason).empty());
    CHECK(labels.insert(label).second);
  }
  CHECK(labels.size() == kRefusalReasonCount);
  CHECK(refusal_label(RefusalReason::kBadSignature) == "bad_signature");
  CHECK(refusal_label(RefusalReason::kBodyBudget) == "body_budget");
  CHECK(refusal_label(RefusalReason::kTooManyEvents) == "too_many_events");
}

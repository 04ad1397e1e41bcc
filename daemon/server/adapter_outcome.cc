#include "adapter_outcome.h"

#include <array>

namespace replywatch::server {
namespace {

struct OutcomeEntry {
  AdapterOutcome outcome;
  std::string_view label;
};

constexpr std::array<OutcomeEntry, kAdapterOutcomeCount> kOutcomes = {{
    {AdapterOutcome::kOk, "ok"},
    {AdapterOutcome::kDryRun, "dry_run"},
    {AdapterOutcome::kUnauthorized, "unauthorized"},
    {AdapterOutcome::kUnprocessable, "unprocessable"},
    {AdapterOutcome::kRejected, "rejected"},
    {AdapterOutcome::kRefused, "refused"},
    {AdapterOutcome::kUnavailable, "unavailable"},
    {AdapterOutcome::kError, "error"},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
    if (static_cast<std::size_t>(kOutcomes[i].outcome) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kOutcomes must list every AdapterOutcome in enum order");
static_assert(static_cast<std::size_t>(AdapterOutcome::kError) + 1 == kAdapterOutcomeCount,
              "kAdapterOutcomeCount must follow the last AdapterOutcome");

}  // namespace

std::string_view adapter_outcome_label(AdapterOutcome outcome) {
  return kOutcomes.at(static_cast<std::size_t>(outcome)).label;
}

}  // namespace replywatch::server

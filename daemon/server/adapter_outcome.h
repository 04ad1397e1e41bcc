// How a request to POST /v1/adapters/NAME ended: the `outcome` label of
// replywatch_adapter_requests_total{adapter,outcome} (docs/metrics.md). A closed set with one
// table, so that every outcome is registered for every configured adapter and none goes uncounted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace replywatch::server {

enum class AdapterOutcome : std::uint8_t {
  kOk,             // 200: the mapped events (possibly none) are accepted, duplicates or durable
  kDryRun,         // 200 or 422 with ?dry_run=true: mapped and checked, nothing stored
  kUnauthorized,   // 401: the help desk's signature or token is missing, stale or wrong
  kUnprocessable,  // 422 with a pointer: the body is not this help desk's shape
  kRejected,       // 422 with `rejected`: some mapped events failed validation (others taken)
  kRefused,        // 4xx for the request as a whole: too many events, bad query, method
  kUnavailable,    // 503 after the retry budget: restoring, not durable, clock suspect
  kError,          // 500: a bug
};

inline constexpr std::size_t kAdapterOutcomeCount = 8;

std::string_view adapter_outcome_label(AdapterOutcome outcome);

}  // namespace replywatch::server

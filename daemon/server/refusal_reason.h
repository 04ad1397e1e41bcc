// Why a request was refused as a whole (no event taken): a closed set, because each value is a
// `reason` label of replywatch_http_requests_refused_total. The server and both handlers name
// refusals only through this enum, and the daemon registers one counter per value, so a new
// reason cannot go uncounted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace replywatch::server {

enum class RefusalReason : std::uint8_t {
  kInternalError,
  kNotFound,
  kMethodNotAllowed,
  kBadSignature,
  kUnsupportedMediaType,
  kUnreadableBody,
  kNotReady,
  kNotDurable,
  kBodyTooLarge,
  kHeaderTooLarge,
  kMalformed,
  kTimeout,
  kConnectionCap,
  kBadQuery,
  kTooManyEvents,
  kBodyBudget,
  kClockSuspect,
  kForbiddenHost,
  kForbiddenOrigin,
  kUnsupportedTransferEncoding,
  kTlsHandshake,
  kUnauthorized,
  kAuthBusy,
  kStreamCap,
};

inline constexpr std::size_t kRefusalReasonCount = 24;

// The metric label value, e.g. "bad_signature".
std::string_view refusal_label(RefusalReason reason);
// A short description for the client and the log.
std::string_view refusal_text(RefusalReason reason);

}  // namespace replywatch::server

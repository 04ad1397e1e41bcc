#include "refusal_reason.h"

#include <array>

namespace replywatch::server {
namespace {

struct RefusalEntry {
  RefusalReason reason;
  std::string_view label;
  std::string_view text;
};

constexpr std::array<RefusalEntry, kRefusalReasonCount> kRefusals = {{
    {RefusalReason::kInternalError, "internal_error", "internal error"},
    {RefusalReason::kNotFound, "not_found", "no such path"},
    {RefusalReason::kMethodNotAllowed, "method_not_allowed", "method not allowed"},
    {RefusalReason::kBadSignature, "bad_signature", "bad or missing signature"},
    {RefusalReason::kUnsupportedMediaType, "unsupported_media_type", "unsupported content type"},
    {RefusalReason::kUnreadableBody, "unreadable_body", "unreadable body"},
    {RefusalReason::kNotReady, "not_ready", "restoring state"},
    {RefusalReason::kNotDurable, "not_durable", "events could not be made durable"},
    {RefusalReason::kBodyTooLarge, "body_too_large", "body too large"},
    {RefusalReason::kHeaderTooLarge, "header_too_large", "header too large"},
    {RefusalReason::kMalformed, "malformed", "malformed request"},
    {RefusalReason::kTimeout, "timeout", "request not received in time"},
    {RefusalReason::kConnectionCap, "connection_cap", "connection cap reached"},
    {RefusalReason::kBadQuery, "bad_query", "bad query"},
    {RefusalReason::kTooManyEvents, "too_many_events", "too many events in one request"},
    {RefusalReason::kBodyBudget, "body_budget", "too many request bodies in flight"},
    {RefusalReason::kClockSuspect, "clock_suspect", "the server's clock is being verified"},
    {RefusalReason::kForbiddenHost, "forbidden_host", "Host is not one of the admin names"},
    {RefusalReason::kForbiddenOrigin, "forbidden_origin", "cross-origin request refused"},
    {RefusalReason::kUnsupportedTransferEncoding, "unsupported_transfer_encoding",
     "unsupported Transfer-Encoding"},
    {RefusalReason::kTlsHandshake, "tls_handshake", "TLS handshake failed"},
    {RefusalReason::kUnauthorized, "unauthorized", "missing or wrong credentials"},
    {RefusalReason::kAuthBusy, "auth_busy", "too many password checks in progress"},
    {RefusalReason::kStreamCap, "stream_cap", "too many console streams open"},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kRefusals.size(); ++i) {
    if (static_cast<std::size_t>(kRefusals[i].reason) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kRefusals must list every RefusalReason in enum order");
static_assert(static_cast<std::size_t>(RefusalReason::kStreamCap) + 1 == kRefusalReasonCount,
              "kRefusalReasonCount must follow the last RefusalReason");

}  // namespace

std::string_view refusal_label(RefusalReason reason) {
  return kRefusals.at(static_cast<std::size_t>(reason)).label;
}

std::string_view refusal_text(RefusalReason reason) {
  return kRefusals.at(static_cast<std::size_t>(reason)).text;
}

}  // namespace replywatch::server

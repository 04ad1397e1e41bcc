// Signed webhooks (docs/events.md, "Signing requests"): X-Replywatch-Signature: sha256=HEX, HEX the
// lowercase hex HMAC-SHA256 under the shared secret of TIMESTAMP "." RAW_BODY.
#pragma once

#include <string>
#include <string_view>

#include "replywatch/time.h"

namespace replywatch::server {

enum class SignatureCheck {
  kValid,
  kMissing,        // a header is absent
  kBadTimestamp,   // not Unix seconds
  kStale,          // more than the window from now
  kWrongSignature  // malformed or not matching
};

std::string_view signature_check_name(SignatureCheck check);

inline constexpr Duration kSignatureWindow = std::chrono::seconds(300);

// Lowercase hex HMAC-SHA256 of timestamp "." body.
std::string sign_request(std::string_view secret, std::string_view timestamp,
                         std::string_view body);

// Everything that can be checked before the body has arrived: both headers present, the
// timestamp Unix seconds within the window, the signature "sha256=" and 64 lowercase hex digits.
SignatureCheck check_signature_headers(std::string_view timestamp_header,
                                       std::string_view signature_header, Instant now);

// Compares in constant time, whatever the headers hold.
SignatureCheck verify_request(std::string_view secret, std::string_view timestamp_header,
                              std::string_view signature_header, std::string_view body,
                              Instant now);

}  // namespace replywatch::server

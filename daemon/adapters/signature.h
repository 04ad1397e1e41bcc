// Timestamped request signatures: a header of Unix seconds and a header "sha256=HEX", HEX the
// lowercase hex HMAC-SHA256 under a shared secret of TIMESTAMP "." RAW_BODY. POST /v1/events
// and the mapping adapter take it as X-Replywatch-Timestamp / X-Replywatch-Signature
// (docs/events.md, "Signing requests"); Chatwoot signs its webhooks the same way under its own
// header names.
#pragma once

#include <string>
#include <string_view>

#include "replywatch/time.h"

namespace replywatch::adapters {

enum class SignatureCheck {
  kValid,
  kMissing,        // a header is absent
  kBadTimestamp,   // not Unix seconds
  kStale,          // more than the window from now
  kWrongSignature  // malformed or not matching
};

struct SignatureHeaders {
  std::string_view timestamp;
  std::string_view signature;
};

inline constexpr SignatureHeaders kReplywatchSignatureHeaders{"X-Replywatch-Timestamp",
                                                              "X-Replywatch-Signature"};

inline constexpr Duration kSignatureWindow = std::chrono::seconds(300);

// What a refusal says, naming the headers.
std::string signature_check_text(SignatureCheck check, const SignatureHeaders& headers);

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

}  // namespace replywatch::adapters

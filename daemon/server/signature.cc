#include "signature.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "hmac.h"

namespace replywatch::server {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr std::size_t kDigestBytes = 32;

}  // namespace

std::string_view signature_check_name(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kValid:
      return "valid";
    case SignatureCheck::kMissing:
      return "missing signature or timestamp header";
    case SignatureCheck::kBadTimestamp:
      return "X-Replywatch-Timestamp is not Unix seconds";
    case SignatureCheck::kStale:
      return "X-Replywatch-Timestamp is more than 300 s from the server's clock";
    case SignatureCheck::kWrongSignature:
      return "signature does not match";
  }
  return "unknown";
}

std::string sign_request(std::string_view secret, std::string_view timestamp,
                         std::string_view body) {
  return adapters::to_lower_hex(adapters::hmac_sha256(secret, {timestamp, ".", body}));
}

SignatureCheck check_signature_headers(std::string_view timestamp_header,
                                       std::string_view signature_header, Instant now) {
  if (timestamp_header.empty() || signature_header.empty()) return SignatureCheck::kMissing;
  std::int64_t seconds = 0;
  const char* end = timestamp_header.data() + timestamp_header.size();
  auto [ptr, ec] = std::from_chars(timestamp_header.data(), end, seconds);
  if (ec != std::errc{} || ptr != end || seconds < 0 || timestamp_header.size() > 12) {
    return SignatureCheck::kBadTimestamp;
  }
  // Whole seconds on both sides: a timestamp exactly 300 s away is still inside the window.
  const auto skew = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()) -
                    std::chrono::seconds(seconds);
  if (skew > kSignatureWindow || skew < -kSignatureWindow) return SignatureCheck::kStale;
  if (!signature_header.starts_with(kPrefix)) return SignatureCheck::kWrongSignature;
  const std::string_view given = signature_header.substr(kPrefix.size());
  const bool hex = std::all_of(given.begin(), given.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (given.size() != kDigestBytes * 2 || !hex) return SignatureCheck::kWrongSignature;
  return SignatureCheck::kValid;
}

SignatureCheck verify_request(std::string_view secret, std::string_view timestamp_header,
                              std::string_view signature_header, std::string_view body,
                              Instant now) {
  if (const SignatureCheck headers =
          check_signature_headers(timestamp_header, signature_header, now);
      headers != SignatureCheck::kValid) {
    return headers;
  }
  const std::string expected = sign_request(secret, timestamp_header, body);
  return adapters::equal_in_constant_time(signature_header.substr(kPrefix.size()), expected)
             ? SignatureCheck::kValid
             : SignatureCheck::kWrongSignature;
}

}  // namespace replywatch::server

#include "signature.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "hmac.h"

namespace replywatch::adapters {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr std::size_t kDigestBytes = 32;

}  // namespace

std::string signature_check_text(SignatureCheck check, const SignatureHeaders& headers) {
  switch (check) {
    case SignatureCheck::kValid:
      return "valid";
    case SignatureCheck::kMissing:
      return fmt::format("missing {} or {} header", headers.signature, headers.timestamp);
    case SignatureCheck::kBadTimestamp:
      return fmt::format("{} is not Unix seconds", headers.timestamp);
    case SignatureCheck::kStale:
      return fmt::format(
          "{} is more than {} s from the server's clock", headers.timestamp,
          std::chrono::duration_cast<std::chrono::seconds>(kSignatureWindow).count());
    case SignatureCheck::kWrongSignature:
      return fmt::format("{} does not match", headers.signature);
  }
  return "unknown";
}

std::string sign_request(std::string_view secret, std::string_view timestamp,
                         std::string_view body) {
  return to_lower_hex(hmac_sha256(secret, {timestamp, ".", body}));
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
  return equal_in_constant_time(signature_header.substr(kPrefix.size()), expected)
             ? SignatureCheck::kValid
             : SignatureCheck::kWrongSignature;
}

}  // namespace replywatch::adapters

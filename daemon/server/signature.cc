#include "signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <string>

namespace replywatch::server {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr std::size_t kDigestBytes = 32;

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};

std::array<unsigned char, kDigestBytes> hmac_sha256(std::string_view secret,
                                                    std::string_view timestamp,
                                                    std::string_view body) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> context(EVP_MAC_CTX_new(mac.get()));
  if (!context) throw std::runtime_error("out of memory for HMAC");
  std::string digest_name = "SHA256";  // OpenSSL's parameter API takes a mutable pointer
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
      OSSL_PARAM_construct_end()};
  // The body is fed in pieces so that a 16 MiB request is never copied to be signed.
  const auto* key = reinterpret_cast<const unsigned char*>(secret.data());
  std::array<unsigned char, kDigestBytes> out{};
  std::size_t length = 0;
  if (EVP_MAC_init(context.get(), key, secret.size(), params.data()) != 1 ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(timestamp.data()),
                     timestamp.size()) != 1 ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>("."), 1) != 1 ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) != 1 ||
      EVP_MAC_final(context.get(), out.data(), &length, out.size()) != 1 ||
      length != kDigestBytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

std::string to_hex(const std::array<unsigned char, kDigestBytes>& bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xF]);
  }
  return hex;
}

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
  return to_hex(hmac_sha256(secret, timestamp, body));
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
  const std::string expected = to_hex(hmac_sha256(secret, timestamp_header, body));
  const std::string_view given = signature_header.substr(kPrefix.size());
  // The length is public (always 64); only the content is compared in constant time.
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0
             ? SignatureCheck::kValid
             : SignatureCheck::kWrongSignature;
}

}  // namespace replywatch::server

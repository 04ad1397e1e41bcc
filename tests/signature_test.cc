// Signed webhooks (docs/events.md, "Signing requests"): HMAC-SHA256 of TIMESTAMP "." BODY,
// lowercase hex, 300 s window.
#include "signature.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>

#include "replywatch/time.h"

using replywatch::Duration;
using replywatch::Instant;
using replywatch::adapters::kReplywatchSignatureHeaders;
using replywatch::adapters::sign_request;
using replywatch::adapters::signature_check_text;
using replywatch::adapters::SignatureCheck;
using replywatch::adapters::SignatureHeaders;
using replywatch::adapters::verify_request;

namespace {

constexpr const char* kSecret = "secret";
constexpr const char* kTimestamp = "1700000000";
constexpr const char* kBody = R"({"a":1})";
// printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
constexpr const char* kExpectedHex =
    "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686";
// printf '%s' '1700000000.' | openssl dgst -sha256 -hmac secret
constexpr const char* kEmptyBodyHex =
    "4bc5f74d868b97888288889c5d9d65df02526f94c1592a79fdf4fe8b26e311e5";

Instant at_seconds(std::int64_t seconds) { return Instant(Duration(seconds * 1000)); }

const Instant kNow = at_seconds(1700000000);

std::string header(const std::string& hex) { return "sha256=" + hex; }

}  // namespace

TEST_CASE("signature: sign_request matches an HMAC-SHA256 computed by openssl", "[signature]") {
  CHECK(sign_request(kSecret, kTimestamp, kBody) == kExpectedHex);
  CHECK(sign_request(kSecret, kTimestamp, "") == kEmptyBodyHex);
  // Lowercase hex, 64 digits.
  const std::string hex = sign_request("another secret", "1", "body");
  CHECK(hex.size() == 64);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("signature: a correctly signed request is valid", "[signature]") {
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody, kNow) ==
        SignatureCheck::kValid);
  CHECK(verify_request(kSecret, kTimestamp, header(kEmptyBodyHex), "", kNow) ==
        SignatureCheck::kValid);
  // The milliseconds of now do not matter inside the window.
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody, kNow + Duration(999)) ==
        SignatureCheck::kValid);
}

TEST_CASE("signature: a signature under another secret is wrong", "[signature]") {
  const std::string other = sign_request("not the secret", kTimestamp, kBody);
  CHECK(other != kExpectedHex);
  CHECK(verify_request(kSecret, kTimestamp, header(other), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request("Secret", kTimestamp, header(kExpectedHex), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
}

TEST_CASE("signature: a body changed by one byte no longer matches", "[signature]") {
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), R"({"a":2})", kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), R"({"a":1} )", kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), R"({"a":1)", kNow) ==
        SignatureCheck::kWrongSignature);
}

TEST_CASE("signature: the timestamp is part of what is signed", "[signature]") {
  // Same body, timestamp one second later and still inside the window: the old signature fails.
  CHECK(verify_request(kSecret, "1700000001", header(kExpectedHex), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
}

TEST_CASE("signature: a missing header is reported as missing", "[signature]") {
  CHECK(verify_request(kSecret, "", header(kExpectedHex), kBody, kNow) == SignatureCheck::kMissing);
  CHECK(verify_request(kSecret, kTimestamp, "", kBody, kNow) == SignatureCheck::kMissing);
  CHECK(verify_request(kSecret, "", "", kBody, kNow) == SignatureCheck::kMissing);
}

TEST_CASE("signature: a timestamp that is not Unix seconds is a bad timestamp", "[signature]") {
  for (const char* timestamp :
       {"abc", "1700000000.5", "1700000000Z", " 1700000000", "1700000000 ", "+1700000000",
        "-1700000000", "-1", "0x10", "2023-11-14T22:13:20Z", "1700000000000000"}) {
    INFO(timestamp);
    CHECK(verify_request(kSecret, timestamp, header(kExpectedHex), kBody, kNow) ==
          SignatureCheck::kBadTimestamp);
  }
}

TEST_CASE("signature: a timestamp more than 300 s from now is stale", "[signature]") {
  const std::string old_ts = "1699999699";    // 301 s before now
  const std::string ahead_ts = "1700000301";  // 301 s after now
  CHECK(verify_request(kSecret, old_ts, header(sign_request(kSecret, old_ts, kBody)), kBody,
                       kNow) == SignatureCheck::kStale);
  CHECK(verify_request(kSecret, ahead_ts, header(sign_request(kSecret, ahead_ts, kBody)), kBody,
                       kNow) == SignatureCheck::kStale);
  // The timestamp has whole seconds, so the clock is read in whole seconds too: 300.999 s
  // after it is still inside the window, 301 s is not.
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody,
                       kNow + std::chrono::seconds(300) + Duration(999)) == SignatureCheck::kValid);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody,
                       kNow + std::chrono::seconds(301)) == SignatureCheck::kStale);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody,
                       kNow - std::chrono::seconds(300) - Duration(1)) == SignatureCheck::kStale);
}

TEST_CASE("signature: a timestamp exactly 300 s from now is still valid", "[signature]") {
  const std::string old_ts = "1699999700";    // exactly 300 s before now
  const std::string ahead_ts = "1700000300";  // exactly 300 s after now
  CHECK(verify_request(kSecret, old_ts, header(sign_request(kSecret, old_ts, kBody)), kBody,
                       kNow) == SignatureCheck::kValid);
  CHECK(verify_request(kSecret, ahead_ts, header(sign_request(kSecret, ahead_ts, kBody)), kBody,
                       kNow) == SignatureCheck::kValid);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody,
                       kNow + std::chrono::seconds(300)) == SignatureCheck::kValid);
  CHECK(verify_request(kSecret, kTimestamp, header(kExpectedHex), kBody,
                       kNow - std::chrono::seconds(300)) == SignatureCheck::kValid);
}

TEST_CASE("signature: uppercase hex or a missing sha256= prefix is a wrong signature",
          "[signature]") {
  std::string upper = kExpectedHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(upper != kExpectedHex);
  CHECK(verify_request(kSecret, kTimestamp, header(upper), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, kExpectedHex, kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, std::string("SHA256=") + kExpectedHex, kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, std::string("sha1=") + kExpectedHex, kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, std::string("sha256= ") + kExpectedHex, kBody, kNow) ==
        SignatureCheck::kWrongSignature);
}

TEST_CASE("signature: a signature of the wrong length is a wrong signature", "[signature]") {
  const std::string hex = kExpectedHex;
  CHECK(verify_request(kSecret, kTimestamp, header(hex.substr(0, 63)), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, header(hex + "0"), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, header(hex + hex), kBody, kNow) ==
        SignatureCheck::kWrongSignature);
  CHECK(verify_request(kSecret, kTimestamp, "sha256=", kBody, kNow) ==
        SignatureCheck::kWrongSignature);
}

TEST_CASE("signature: every refusal names the header at fault", "[signature]") {
  CHECK(signature_check_text(SignatureCheck::kValid, kReplywatchSignatureHeaders) == "valid");
  CHECK(signature_check_text(SignatureCheck::kMissing, kReplywatchSignatureHeaders) ==
        "missing X-Replywatch-Signature or X-Replywatch-Timestamp header");
  CHECK(signature_check_text(SignatureCheck::kBadTimestamp, kReplywatchSignatureHeaders) ==
        "X-Replywatch-Timestamp is not Unix seconds");
  CHECK(signature_check_text(SignatureCheck::kStale, kReplywatchSignatureHeaders) ==
        "X-Replywatch-Timestamp is more than 300 s from the server's clock");
  const SignatureHeaders chatwoot{"X-Chatwoot-Timestamp", "X-Chatwoot-Signature"};
  CHECK(signature_check_text(SignatureCheck::kWrongSignature, chatwoot) ==
        "X-Chatwoot-Signature does not match");
}

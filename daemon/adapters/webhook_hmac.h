// HMAC-SHA256 for help-desk webhook signatures, shared by the adapters (docs/adapters.md): each
// help desk signs some concatenation of a timestamp and the raw body and writes the digest as hex
// or base64. Pure: no clock, no files.
#pragma once

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

namespace replywatch::adapters {

using Sha256Digest = std::array<unsigned char, 32>;

// HMAC-SHA256 under `key` of the pieces in order, fed one by one so that a large body is never
// copied to be signed.
Sha256Digest hmac_sha256(std::string_view key, std::initializer_list<std::string_view> pieces);

// Plain SHA-256 of `data`.
Sha256Digest sha256(std::string_view data);

std::string to_lower_hex(const Sha256Digest& digest);
std::string to_base64(const Sha256Digest& digest);

// Compares in time that depends only on the lengths, which are public (a digest's text length
// is fixed by its encoding).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace replywatch::adapters

// HMAC-SHA256 for help desks' webhook signatures, and the encodings they send it in. Shared by
// every adapter kind; the comparison never leaks where two digests differ.
#pragma once

#include <array>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace replywatch::adapters {

using Sha256Digest = std::array<unsigned char, 32>;

// HMAC-SHA256 under `key` of the concatenation of `parts`, fed in order (the body is never
// copied to be signed).
Sha256Digest hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts);

// Plain SHA-256 of `data` (the mapping adapter's body_digest ids).
Sha256Digest sha256(std::string_view data);

std::string to_lower_hex(const Sha256Digest& digest);
std::string to_base64(const Sha256Digest& digest);

// Compares in time that depends only on the lengths.
bool equal_in_constant_time(std::string_view a, std::string_view b);

// A shared secret from its file (the ingest listener's and each adapter's), without trailing
// whitespace (a final newline is usual); an error when it cannot be read or holds nothing.
std::optional<std::string> read_secret_file(const std::string& path, std::string& error);

}  // namespace replywatch::adapters

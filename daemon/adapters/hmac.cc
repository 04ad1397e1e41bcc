#include "hmac.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

namespace replywatch::adapters {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

Sha256Digest hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> context(EVP_MAC_CTX_new(mac.get()));
  if (!context) throw std::runtime_error("out of memory for HMAC");
  std::string digest_name = "SHA256";  // OpenSSL's parameter API takes a mutable pointer
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(context.get(), bytes_of(key), key.size(), params.data()) != 1) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  for (const std::string_view part : parts) {
    if (EVP_MAC_update(context.get(), bytes_of(part), part.size()) != 1) {
      throw std::runtime_error("HMAC-SHA256 failed");
    }
  }
  Sha256Digest out{};
  std::size_t length = 0;
  if (EVP_MAC_final(context.get(), out.data(), &length, out.size()) != 1 || length != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

Sha256Digest sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

std::string to_lower_hex(const Sha256Digest& digest) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (const unsigned char byte : digest) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xF]);
  }
  return hex;
}

std::string to_base64(const Sha256Digest& digest) {
  std::string out(4 * ((digest.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest.data(),
                                      static_cast<int>(digest.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

bool equal_in_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The file's content without trailing whitespace (a final newline is usual); an error when it
// cannot be read or holds nothing.
std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read the secret file {}", path);
    return std::nullopt;
  }
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())) != 0) {
    secret.pop_back();
  }
  if (secret.empty()) {
    error = fmt::format("the secret file {} is empty", path);
    return std::nullopt;
  }
  return secret;
}

}  // namespace replywatch::adapters

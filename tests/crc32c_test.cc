#include "crc32c.h"

#include <catch2/catch.hpp>
#include <string>

using replywatch::storage::crc32c;

TEST_CASE("crc32c: the standard check value", "[crc32c]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
}

TEST_CASE("crc32c: known vectors (RFC 3720 B.4)", "[crc32c]") {
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending) == 0x46DD794Eu);
}

TEST_CASE("crc32c: every single flipped bit changes the checksum", "[crc32c]") {
  std::string text = "a log record of some length, 0123456789";
  const std::uint32_t good = crc32c(text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      text[i] = static_cast<char>(text[i] ^ (1 << bit));
      CHECK(crc32c(text) != good);
      text[i] = static_cast<char>(text[i] ^ (1 << bit));
    }
  }
}

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

namespace {

namespace detail = replywatch::storage::crc32c_detail;

std::uint32_t table_crc(std::string_view bytes) {
  return ~detail::update_table(detail::kInitialRegister, bytes.data(), bytes.size());
}

std::string pseudo_random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (char& byte : bytes) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    byte = static_cast<char>(state >> 56);
  }
  return bytes;
}

}  // namespace

TEST_CASE("crc32c: Boost's table, the fallback, gives the known vectors", "[crc32c]") {
  CHECK(table_crc("123456789") == 0xE3069283u);
  CHECK(table_crc(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(table_crc(std::string(32, '\xff')) == 0x62A8AB43u);
  CHECK(table_crc("") == 0u);
}

TEST_CASE("crc32c: the hardware path equals the table at every length and alignment", "[crc32c]") {
  const std::string bytes = pseudo_random_bytes(4096 + 64);
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t size = 0; size < 300; ++size) {
      const std::string_view piece(bytes.data() + offset, size);
      REQUIRE(crc32c(piece) == table_crc(piece));
    }
  }
  CHECK(crc32c(bytes) == table_crc(bytes));
#if defined(__x86_64__)
  // Where the processor has the instruction, it is what crc32c() uses; say so, so that a run on a
  // machine without it is not mistaken for a test of the hardware path.
  if (detail::hardware_available()) {
    const std::string_view all(bytes);
    CHECK(~detail::update_sse42(detail::kInitialRegister, all.data(), all.size()) ==
          table_crc(all));
  } else {
    WARN("no SSE4.2 here: only the table was tested");
  }
#endif
}

TEST_CASE("crc32c: a checksum over pieces equals the one over the whole", "[crc32c]") {
  const std::string bytes = pseudo_random_bytes(1000);
  for (std::size_t cut = 0; cut <= bytes.size(); cut += 37) {
    replywatch::storage::Crc32c crc;
    crc.process_bytes(bytes.data(), cut);
    crc.process_bytes(bytes.data() + cut, bytes.size() - cut);
    REQUIRE(crc.checksum() == crc32c(bytes));
    // The table continues a register the hardware path left, and the other way round.
    const std::uint32_t first = detail::update(detail::kInitialRegister, bytes.data(), cut);
    REQUIRE(~detail::update_table(first, bytes.data() + cut, bytes.size() - cut) == crc32c(bytes));
  }
  replywatch::storage::Crc32c empty;
  CHECK(empty.checksum() == 0u);
}

#include "keyed_hash.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

using replywatch::Hash128;
using replywatch::SipHash128;

namespace {

constexpr std::uint64_t kKey0 = 0x0706050403020100ULL;  // bytes 00..07
constexpr std::uint64_t kKey1 = 0x0f0e0d0c0b0a0908ULL;  // bytes 08..0f

}  // namespace

TEST_CASE("keyed_hash: SipHash-2-4-128 reference vector", "[keyed_hash]") {
  // The reference implementation's first 128-bit vector: key 00..0f, empty message,
  // a3 81 7f 04 ba 25 a8 e6 6d f6 72 14 c7 55 02 93.
  SipHash128 hash(kKey0, kKey1);
  const Hash128 out = hash.finish();
  CHECK(out.low == 0xe6a825ba047f81a3ULL);
  CHECK(out.high == 0x930255c71472f66dULL);
}

TEST_CASE("keyed_hash: any split of the input gives the same hash", "[keyed_hash]") {
  std::string bytes;
  for (int i = 0; i < 61; ++i) bytes.push_back(static_cast<char>(i * 7));
  SipHash128 whole(kKey0, kKey1);
  whole.update(bytes);
  const Hash128 expected = whole.finish();
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    SipHash128 split(kKey0, kKey1);
    split.update(std::string_view(bytes).substr(0, cut));
    split.update(std::string_view(bytes).substr(cut));
    REQUIRE(split.finish() == expected);
  }
  SipHash128 other_key(kKey0 + 1, kKey1);
  other_key.update(bytes);
  CHECK_FALSE(other_key.finish() == expected);
}

#include "gzip.h"

#include <catch2/catch.hpp>
#include <string>

#include "gunzip.h"

using replywatch::server::accepts_gzip;
using replywatch::server::gzip_compress;
// Inflates with zlib itself, independently of the code under test.
using rwtest::gunzip;

TEST_CASE("gzip: Accept-Encoding values", "[gzip]") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("gzip, deflate, br"));  // curl, browsers
  CHECK(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("*"));
  CHECK(accepts_gzip(" identity ; q=0.5 , * ; q=0.1 "));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("deflate, br"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000, *"));  // an explicit refusal beats the wildcard
  CHECK_FALSE(accepts_gzip("*;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=high"));  // unreadable: not compressed
  CHECK_FALSE(accepts_gzip("gzipped"));
}

TEST_CASE("gzip: compresses to a gzip member that inflates back", "[gzip]") {
  std::string text;
  for (int i = 0; i < 20'000; ++i) {
    text += "replywatch_sla_rounds_total{platform=\"tmall\",shop=\"shop" + std::to_string(i) +
            "\",sla=\"first_reply_3m\"} " + std::to_string(i * 7) + "\n";
  }
  const auto compressed = gzip_compress(text);
  REQUIRE(compressed.has_value());
  CHECK(compressed->size() * 5 < text.size());
  CHECK(static_cast<unsigned char>((*compressed)[0]) == 0x1f);  // the gzip magic
  CHECK(static_cast<unsigned char>((*compressed)[1]) == 0x8b);
  CHECK(gunzip(*compressed) == text);

  const auto empty = gzip_compress("");
  REQUIRE(empty.has_value());
  CHECK(gunzip(*empty).empty());
}

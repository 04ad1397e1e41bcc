#include "gzip.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

using replywatch::server::accepts_gzip;
using replywatch::server::gzip_compress;

namespace {

// Inflates a gzip member with zlib itself, independently of the code under test.
std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(1 << 20, '\0');
  std::string result;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    status = inflate(&stream, Z_NO_FLUSH);
    result.append(out.data(), out.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  REQUIRE(status == Z_STREAM_END);
  return result;
}

}  // namespace

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

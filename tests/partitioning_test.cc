// partition_of: FNV-1a 64 over platform + "\n" + shop, modulo the stream's partitions. The known
// answers pin the hash every ingest node and consumer must agree on.
#include "partitioning.h"

#include <catch2/catch.hpp>
#include <string>

using replywatch::jetstream::fnv1a64;
using replywatch::jetstream::partition_of;

TEST_CASE("partitioning: fnv1a64 gives the published FNV-1a 64-bit values", "[partitioning]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("partitioning: the partition hashes platform, a newline and shop", "[partitioning]") {
  CHECK(fnv1a64("amazon\nshop-1") == 0xbc7b32898f38e1a7ULL);
  CHECK(partition_of("amazon", "shop-1", 16) == 7);
  CHECK(partition_of("amazon", "shop-1", 7) == 3);
  CHECK(fnv1a64("ebay\nAcme GmbH") == 0xbd74e9671bcd4826ULL);
  CHECK(partition_of("ebay", "Acme GmbH", 16) == 6);
  CHECK(partition_of("ebay", "Acme GmbH", 7) == 0);
  // UTF-8 bytes as they are, no normalisation.
  CHECK(fnv1a64("etsy\nkr\xc3\xa4mer") == 0x3b98590425a509f8ULL);
  CHECK(partition_of("etsy", "kr\xc3\xa4mer", 16) == 8);
}

TEST_CASE("partitioning: the separator keeps platform and shop apart", "[partitioning]") {
  // "ab" + "c" and "a" + "bc" would hash alike without it.
  CHECK(partition_of("ab", "c", 1'000'003) != partition_of("a", "bc", 1'000'003));
  for (int i = 0; i < 100; ++i) {
    const std::string shop = "shop-" + std::to_string(i);
    CHECK(partition_of("tmall", shop, 16) == fnv1a64("tmall\n" + shop) % 16);
    CHECK(partition_of("tmall", shop, 1) == 0);
  }
}

#include "partitioning.h"

namespace replywatch::jetstream {
namespace {

constexpr std::uint64_t kOffsetBasis = 14695981039346656037ULL;
constexpr std::uint64_t kPrime = 1099511628211ULL;

std::uint64_t fold(std::uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kPrime;
  }
  return hash;
}

}  // namespace

std::uint64_t fnv1a64(std::string_view bytes) { return fold(kOffsetBasis, bytes); }

std::uint32_t partition_of(std::string_view platform, std::string_view shop,
                           std::uint32_t partitions) {
  // Hashed in three pieces instead of building the joined string: the same bytes in order.
  std::uint64_t hash = fold(kOffsetBasis, platform);
  hash = fold(hash, "\n");
  hash = fold(hash, shop);
  return static_cast<std::uint32_t>(hash % (partitions == 0 ? 1 : partitions));
}

}  // namespace replywatch::jetstream

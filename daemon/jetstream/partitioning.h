// Which partition of the stream an event belongs to: a stable hash of its platform and shop, so
// that every event of a shop lands on one subject and is applied in one order by every engine
// that consumes it. The hash is fixed by the deployment's contract (FNV-1a, 64-bit, over the
// UTF-8 bytes of platform + "\n" + shop): ingest nodes and consumers of any version must agree.
#pragma once

#include <cstdint>
#include <string_view>

namespace replywatch::jetstream {

// FNV-1a, 64-bit: offset basis 14695981039346656037, prime 1099511628211.
std::uint64_t fnv1a64(std::string_view bytes);

// fnv1a64(platform + "\n" + shop) mod partitions; `partitions` is at least 1.
std::uint32_t partition_of(std::string_view platform, std::string_view shop,
                           std::uint32_t partitions);

}  // namespace replywatch::jetstream

#include "heap_trim.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <vector>

using replywatch::server::HeapTrimPolicy;
using replywatch::server::trim_heap;

namespace {

// Resident bytes of this process, from /proc/self/statm (its second field, in pages).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("heap trim: once per burst, after it has drained", "[heap_trim]") {
  HeapTrimPolicy policy(1000);
  SECTION("a small burst never asks") {
    for (std::size_t buffered : {0, 500, 999, 0}) CHECK_FALSE(policy.drained(buffered));
  }
  SECTION("a burst asks once it is down to a sixteenth of its peak, and only once") {
    CHECK_FALSE(policy.drained(400));
    CHECK_FALSE(policy.drained(1600));
    CHECK_FALSE(policy.drained(800));
    CHECK_FALSE(policy.drained(101));
    CHECK(policy.drained(100));
    CHECK_FALSE(policy.drained(0));
    CHECK_FALSE(policy.drained(50));
  }
  SECTION("the next burst is measured from where the last one drained") {
    CHECK_FALSE(policy.drained(5000));
    CHECK(policy.drained(0));
    CHECK_FALSE(policy.drained(999));
    CHECK_FALSE(policy.drained(0));
    CHECK_FALSE(policy.drained(2000));
    CHECK(policy.drained(125));
  }
}

TEST_CASE("heap trim: memory freed in many small blocks goes back to the kernel", "[heap_trim]") {
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("AddressSanitizer's allocator keeps its own heap; malloc_trim does not reach it");
  return;
#endif
  // 64 MiB in 64-byte blocks: below any mmap threshold, so only a trim returns it.
  std::vector<std::unique_ptr<char[]>> blocks;
  constexpr std::size_t kBlocks = std::size_t{1} << 20;
  blocks.reserve(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[48]);
    blocks.back()[0] = static_cast<char>(i);  // touched, so resident
  }
  // Freed in an order that leaves the heap's top in use, so free() alone cannot shrink it.
  for (std::size_t i = 0; i + 1 < kBlocks; ++i) blocks[i].reset();
  const std::size_t before = resident_bytes();
  trim_heap();
  const std::size_t after = resident_bytes();
  CHECK(before > after);
  CHECK(before - after > std::size_t{16} << 20);
}

// A hint that a large array about to be filled (from a snapshot, or by a table's growth) be
// backed by 2 MiB pages.
//
// A restart fills hundreds of MB of fresh memory at once, and each 4 KiB page costs a page fault
// the first time it is written: on the virtual machines this was measured on, about 100 µs each
// (a tenth of a second per 4 MB), most of a snapshot's load. A table that grows as events come
// (the dedup table, the conversation index, the timer heap) writes fresh memory the same way at
// each growth step. Transparent huge pages, where the kernel offers them for advised memory
// (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or `always`), take one fault per
// 2 MiB. Only the whole 2 MiB pages inside the array are advised; where the kernel has none to
// give, nothing changes. Arrays below 4 MiB are not advised: rounding them up to whole huge pages
// could cost more memory than their faults cost time.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

namespace replywatch {

inline void advise_huge_pages(const void* data, std::size_t bytes) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (start + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t last = (start + bytes) & ~(kHugePage - 1);
  if (bytes < 2 * kHugePage || last <= first) return;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

// `count` value-initialised elements in fresh memory, advised before it is first written.
template <typename T>
std::vector<T> advised_vector(std::size_t count) {
  std::vector<T> items;
  items.reserve(count);
  advise_huge_pages(items.data(), count * sizeof(T));
  items.resize(count);
  return items;
}

// Moves `items` to fresh memory of at least `capacity` elements, advised before it is written.
template <typename T>
void reserve_advised(std::vector<T>& items, std::size_t capacity) {
  if (capacity <= items.capacity()) return;
  std::vector<T> grown;
  grown.reserve(capacity);
  advise_huge_pages(grown.data(), capacity * sizeof(T));
  grown.insert(grown.end(), std::make_move_iterator(items.begin()),
               std::make_move_iterator(items.end()));
  items.swap(grown);
}

}  // namespace replywatch

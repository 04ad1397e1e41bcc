// A hint that a large array about to be filled from a snapshot be backed by 2 MiB pages.
//
// A restart fills hundreds of MB of fresh memory at once, and each 4 KiB page costs a page fault
// the first time it is written: on the virtual machines this was measured on, about 100 µs each
// (a tenth of a second per 4 MB), most of a snapshot's load. Transparent huge pages, where the
// kernel offers them for advised memory (`/sys/kernel/mm/transparent_hugepage/enabled` is
// `madvise` or `always`), take one fault per 2 MiB. Only the whole 2 MiB pages inside the array
// are advised; where the kernel has none to give, nothing changes.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace replywatch {

inline void advise_huge_pages(const void* data, std::size_t bytes) {
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (start + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t last = (start + bytes) & ~(kHugePage - 1);
  if (bytes < 2 * kHugePage || last <= first) return;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace replywatch

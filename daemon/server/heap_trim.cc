#include "heap_trim.h"

#include <malloc.h>

#include <algorithm>

namespace replywatch::server {

bool HeapTrimPolicy::drained(std::size_t buffered_events) {
  peak_ = std::max(peak_, buffered_events);
  if (peak_ < burst_events_ || buffered_events > peak_ / 16) return false;
  peak_ = buffered_events;
  return true;
}

void trim_heap() { ::malloc_trim(0); }

}  // namespace replywatch::server

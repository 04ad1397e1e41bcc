#include "heap_trim.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace replywatch::server {
namespace {

// Resident pages of this process, from /proc/self/statm (its second field).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

bool HeapTrimPolicy::drained(std::size_t buffered_events) {
  peak_ = std::max(peak_, buffered_events);
  if (peak_ < burst_events_ || buffered_events > peak_ / 16) return false;
  peak_ = buffered_events;
  return true;
}

std::size_t trim_heap() {
  const std::size_t before = resident_bytes();
  ::malloc_trim(0);
  const std::size_t after = resident_bytes();
  return before > after ? before - after : 0;
}

}  // namespace replywatch::server

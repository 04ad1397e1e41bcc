// When to hand the heap's free memory back to the kernel. A burst of posts keeps hundreds of
// thousands of events in the reorder buffer for the allowed lateness; once they are applied,
// glibc keeps the memory they held (their many small strings, and blocks above its mmap
// threshold, which it raises as large blocks are freed), so the daemon's resident memory stays
// at the burst's peak: measured 25-110 B per open round at 1 M rounds over the engine's own
// 146 B. Trimming after every request would cost more than it returns; after a burst has
// drained it runs once per burst.
#pragma once

#include <cstddef>

namespace replywatch::server {

class HeapTrimPolicy {
 public:
  // Bursts smaller than `burst_events` buffered events are not worth a trim.
  explicit HeapTrimPolicy(std::size_t burst_events = 65'536) : burst_events_(burst_events) {}

  // Told the reorder buffer's size after each advance of the engine; true when a burst of at
  // least `burst_events` has drained to a sixteenth of its peak (then trim once).
  bool drained(std::size_t buffered_events);

 private:
  std::size_t burst_events_;
  std::size_t peak_ = 0;
};

// malloc_trim(0): returns the free pages of every arena to the kernel.
void trim_heap();

}  // namespace replywatch::server

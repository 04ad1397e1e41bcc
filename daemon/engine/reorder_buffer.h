// Events waiting for the watermark (SPEC §6): handed out in `ts` order, ties in arrival order.
// The heap holds 24-byte handles; the events themselves stay put in reused slots, so a push or
// pop moves no strings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "replywatch/event.h"
#include "replywatch/time.h"

namespace replywatch {

class ReorderBuffer {
 public:
  void push(Event&& event) {
    std::uint32_t slot = 0;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    const Instant ts = event.ts;
    slots_[slot] = std::move(event);
    heap_.push_back(Handle{ts, arrivals_++, slot});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // The earliest waiting event's ts; only when not empty.
  Instant front_ts() const { return heap_.front().ts; }

  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const Handle handle = heap_.back();
    heap_.pop_back();
    // Moving out leaves the slot's strings empty and their memory with the event.
    Event event = std::move(slots_[handle.slot]);
    free_slots_.push_back(handle.slot);
    // A burst (a large batch, a slow watermark) leaves many empty slots of ~250 bytes each: give
    // them back once the buffer has drained, rather than keep the peak for good.
    if (heap_.empty() && slots_.size() > kKeptSlots) release();
    return event;
  }

  // Slots held, for tests: how much memory the buffer keeps.
  std::size_t slot_capacity() const { return slots_.capacity(); }

 private:
  struct Handle {
    Instant ts;
    std::uint64_t arrival;
    std::uint32_t slot;
  };

  static bool later(const Handle& a, const Handle& b) {
    if (a.ts != b.ts) return a.ts > b.ts;
    return a.arrival > b.arrival;
  }

  static constexpr std::size_t kKeptSlots = 1024;

  void release() {
    std::vector<Event>().swap(slots_);
    std::vector<std::uint32_t>().swap(free_slots_);
    std::vector<Handle>().swap(heap_);
  }

  std::vector<Event> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Handle> heap_;  // min-heap on (ts, arrival)
  std::uint64_t arrivals_ = 0;
};

}  // namespace replywatch

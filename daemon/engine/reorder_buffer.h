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
  void push(Event event) {
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
    Event event = std::move(slots_[handle.slot]);
    slots_[handle.slot] = Event{};
    free_slots_.push_back(handle.slot);
    return event;
  }

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

  std::vector<Event> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Handle> heap_;  // min-heap on (ts, arrival)
  std::uint64_t arrivals_ = 0;
};

}  // namespace replywatch

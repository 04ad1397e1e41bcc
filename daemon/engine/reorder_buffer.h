// Events waiting for the watermark (docs/events.md, "Ordering and lateness"): handed out in `ts`
// order, ties in arrival order. The heap holds 24-byte handles; the events themselves stay put in
// reused slots, so a push or pop moves no strings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "replywatch/event.h"
#include "replywatch/snapshot_codec.h"
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

  // The earliest waiting event, in place; only when not empty. Valid until the next push.
  Event& front() { return slots_[heap_.front().slot]; }

  // Drops the earliest waiting event, leaving its slot's strings empty as pop() does.
  void drop_front() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const std::uint32_t slot = heap_.back().slot;
    heap_.pop_back();
    Event& event = slots_[slot];
    for (std::string* text : {&event.id, &event.platform, &event.shop, &event.conversation,
                              &event.bot, &event.agent, &event.channel}) {
      text->clear();
    }
    free_slots_.push_back(slot);
    if (heap_.empty() && slots_.size() > kKeptSlots) release();
  }

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

  // Every member as it is, so that ties keep their arrival order across a restore.
  void save(SnapshotWriter& out) const {
    out.u64(arrivals_);
    out.u64(slots_.size());
    for (const Event& event : slots_) save_event(out, event);
    out.u64(free_slots_.size());
    for (const std::uint32_t slot : free_slots_) out.u32(slot);
    out.u64(heap_.size());
    for (const Handle& handle : heap_) {
      out.instant(handle.ts);
      out.u64(handle.arrival);
      out.u32(handle.slot);
    }
  }
  void load(SnapshotReader& in) {
    arrivals_ = in.u64();
    slots_.assign(in.count(66), Event{});
    for (Event& event : slots_) event = load_event(in);
    free_slots_.resize(in.count(4));
    for (std::uint32_t& slot : free_slots_)
      slot = in.index(static_cast<std::uint32_t>(slots_.size()));
    heap_.resize(in.count(20));
    for (Handle& handle : heap_) {
      handle.ts = in.instant();
      handle.arrival = in.u64();
      handle.slot = in.index(static_cast<std::uint32_t>(slots_.size()));
      if (handle.ts != slots_[handle.slot].ts) in.fail("a buffered event's handle disagrees");
    }
    if (heap_.size() + free_slots_.size() != slots_.size() ||
        !std::is_heap(heap_.begin(), heap_.end(), later)) {
      in.fail("a reorder buffer whose slots do not add up");
    }
  }

  static void save_event(SnapshotWriter& out, const Event& event) {
    out.string(event.id);
    out.string(event.platform);
    out.string(event.shop);
    out.string(event.conversation);
    out.string(event.bot);
    out.string(event.agent);
    out.string(event.channel);
    out.u8(static_cast<std::uint8_t>(event.type));
    out.boolean(event.online);
    out.instant(event.ts);
  }
  static Event load_event(SnapshotReader& in) {
    Event event;
    event.id = in.string();
    event.platform = in.string();
    event.shop = in.string();
    event.conversation = in.string();
    event.bot = in.string();
    event.agent = in.string();
    event.channel = in.string();
    const std::uint8_t type = in.u8();
    if (type >= kEventTypeCount) in.fail("an unknown event type");
    event.type = static_cast<EventType>(type);
    event.online = in.boolean();
    event.ts = in.instant();
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

  // A function object, so that the heap's sift loops inline the comparison.
  struct Later {
    bool operator()(const Handle& a, const Handle& b) const {
      if (a.ts != b.ts) return a.ts > b.ts;
      return a.arrival > b.arrival;
    }
  };
  static constexpr Later later{};

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

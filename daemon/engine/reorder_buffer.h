// Events waiting for the watermark (docs/events.md, "Ordering and lateness"): handed out in `ts`
// order, ties in arrival order. The heap holds 24-byte handles; the events themselves stay put in
// reused slots, so a push or pop moves no strings. Slots live in chunks of kChunkSlots that never
// move: a burst of 10 000 events grows the buffer by whole chunks, where a vector of events would
// move every event it holds (seven strings each) at each doubling.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
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
      slot = static_cast<std::uint32_t>(slot_count_);
      if (slot_count_ == chunks_.size() * kChunkSlots) {
        chunks_.push_back(std::make_unique<Event[]>(kChunkSlots));
      }
      ++slot_count_;
    }
    const Instant ts = event.ts;
    at(slot) = std::move(event);
    heap_.push_back(Handle{ts, arrivals_++, slot});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // The earliest waiting event's ts; only when not empty.
  Instant front_ts() const { return heap_.front().ts; }

  // The earliest waiting event, in place; only when not empty. Valid until the next push.
  Event& front() { return at(heap_.front().slot); }

  // Drops the earliest waiting event, leaving its slot's strings empty as pop() does.
  void drop_front() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const std::uint32_t slot = heap_.back().slot;
    heap_.pop_back();
    Event& event = at(slot);
    for (std::string* text : {&event.id, &event.platform, &event.shop, &event.conversation,
                              &event.bot, &event.agent, &event.channel}) {
      text->clear();
    }
    free_slots_.push_back(slot);
    if (heap_.empty() && slot_count_ > kKeptSlots) release();
  }

  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const Handle handle = heap_.back();
    heap_.pop_back();
    // Moving out leaves the slot's strings empty and their memory with the event.
    Event event = std::move(at(handle.slot));
    free_slots_.push_back(handle.slot);
    // A burst (a large batch, a slow watermark) leaves many empty slots of ~250 bytes each: give
    // them back once the buffer has drained, rather than keep the peak for good.
    if (heap_.empty() && slot_count_ > kKeptSlots) release();
    return event;
  }

  // Every member as it is, so that ties keep their arrival order across a restore.
  void save(SnapshotWriter& out) const {
    out.u64(arrivals_);
    out.u64(slot_count_);
    for (std::size_t slot = 0; slot < slot_count_; ++slot) save_event(out, at(slot));
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
    release();
    const std::size_t slots = in.count(66);
    chunks_.resize((slots + kChunkSlots - 1) / kChunkSlots);
    for (auto& chunk : chunks_) chunk = std::make_unique<Event[]>(kChunkSlots);
    slot_count_ = slots;
    for (std::size_t slot = 0; slot < slots; ++slot) at(slot) = load_event(in);
    const auto slot_limit = static_cast<std::uint32_t>(slots);
    free_slots_.resize(in.count(4));
    for (std::uint32_t& slot : free_slots_) slot = in.index(slot_limit);
    heap_.resize(in.count(20));
    for (Handle& handle : heap_) {
      handle.ts = in.instant();
      handle.arrival = in.u64();
      handle.slot = in.index(slot_limit);
      if (handle.ts != at(handle.slot).ts) in.fail("a buffered event's handle disagrees");
    }
    if (heap_.size() + free_slots_.size() != slot_count_ ||
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
  std::size_t slot_capacity() const { return chunks_.size() * kChunkSlots; }

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
  // About 240 KiB of events per chunk.
  static constexpr std::size_t kChunkSlots = 1024;

  Event& at(std::size_t slot) { return chunks_[slot / kChunkSlots][slot % kChunkSlots]; }
  const Event& at(std::size_t slot) const {
    return chunks_[slot / kChunkSlots][slot % kChunkSlots];
  }

  void release() {
    std::vector<std::unique_ptr<Event[]>>().swap(chunks_);
    slot_count_ = 0;
    std::vector<std::uint32_t>().swap(free_slots_);
    std::vector<Handle>().swap(heap_);
  }

  std::vector<std::unique_ptr<Event[]>> chunks_;
  std::size_t slot_count_ = 0;  // slots handed out so far, free or not
  std::vector<std::uint32_t> free_slots_;
  std::vector<Handle> heap_;  // min-heap on (ts, arrival)
  std::uint64_t arrivals_ = 0;
};

}  // namespace replywatch

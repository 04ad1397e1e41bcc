// Everything the engine has to do at an instant: round stages (warning, deadline, cost cap),
// presence grace ends and service-hours boundaries, in one min-heap. Entries are never removed
// early: a timer whose round was answered, or whose shortfall ended, stays until it comes due and
// is then recognised as stale by its generation. 16 bytes an entry, one pending entry per open
// round, so it stays small beside the rounds themselves.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "huge_pages.h"
#include "replywatch/snapshot_codec.h"
#include "replywatch/time.h"

namespace replywatch {

// Timers of the same instant fire in this order: service hours change first, so that a
// shortfall ending at closing time is over before its grace end is looked at.
enum class TimerKind : std::uint8_t { kHoursBoundary = 0, kRoundStage = 1, kGraceEnd = 2 };

struct TimerEntry {
  // Generations wrap at this many bits. A stale entry that happens to match a reused slot's
  // generation only makes the engine look at that round early, which decides nothing before
  // its own instants.
  static constexpr std::uint32_t kGenerationBits = 24;
  static constexpr std::uint32_t kGenerationMask = (1U << kGenerationBits) - 1;

  Instant due{};
  // kHoursBoundary: platform index; kRoundStage: conversation slot; kGraceEnd: shop index.
  std::uint32_t target = 0;
  // kRoundStage: the round's generation; kGraceEnd: the shortfall's generation.
  std::uint32_t generation : kGenerationBits = 0;
  // kRoundStage: the reply view; kGraceEnd: the SLA index (below kMaxSlasPerPlatform).
  std::uint32_t lane : 6 = 0;
  TimerKind kind : 2 = TimerKind::kHoursBoundary;

  static TimerEntry hours_boundary(Instant due, std::uint32_t platform) {
    return make(due, TimerKind::kHoursBoundary, platform, 0, 0);
  }
  static TimerEntry round_stage(Instant due, std::uint32_t conversation, std::uint32_t view,
                                std::uint32_t generation) {
    return make(due, TimerKind::kRoundStage, conversation, view, generation);
  }
  static TimerEntry grace_end(Instant due, std::uint32_t shop, std::uint32_t sla,
                              std::uint32_t generation) {
    return make(due, TimerKind::kGraceEnd, shop, sla, generation);
  }

  // Orders the heap on (due, kind).
  bool fires_after(const TimerEntry& other) const {
    if (due != other.due) return due > other.due;
    return kind > other.kind;
  }

 private:
  static TimerEntry make(Instant due, TimerKind kind, std::uint32_t target, std::uint32_t lane,
                         std::uint32_t generation) {
    TimerEntry entry;
    entry.due = due;
    entry.target = target;
    entry.generation = generation & kGenerationMask;
    entry.lane = lane & 0x3F;
    entry.kind = kind;
    return entry;
  }
};

static_assert(sizeof(TimerEntry) == 16, "one timer per open round: keep it small");

class TimerQueue {
 public:
  // An instant at or past kInstantMax never comes: such a timer is not kept.
  void push(const TimerEntry& entry) {
    if (entry.due >= kInstantMax) return;
    if (heap_.size() == heap_.capacity())
      reserve_advised(heap_, std::max<std::size_t>(64, 2 * heap_.size()));
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const TimerEntry& front() const { return heap_.front(); }

  TimerEntry pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const TimerEntry entry = heap_.back();
    heap_.pop_back();
    return entry;
  }

  // The heap as it is, so that timers due at the same instant fire in the same order after a
  // restore. Targets are checked by the engine, which knows its tables.
  void save(SnapshotWriter& out) const {
    out.u64(heap_.size());
    for (const TimerEntry& entry : heap_) {
      out.instant(entry.due);
      out.u32(entry.target);
      out.u32(entry.generation | (std::uint32_t{entry.lane} << TimerEntry::kGenerationBits) |
              (static_cast<std::uint32_t>(entry.kind) << (TimerEntry::kGenerationBits + 6)));
    }
  }
  void load(SnapshotReader& in) {
    std::vector<TimerEntry>().swap(heap_);
    const std::size_t n = in.count(16);
    heap_.reserve(n);
    advise_huge_pages(heap_.data(), n * sizeof(TimerEntry));
    for (std::size_t i = 0; i < n; ++i) {
      TimerEntry entry;
      entry.due = in.instant();
      entry.target = in.u32();
      const std::uint32_t packed = in.u32();
      const std::uint32_t kind = packed >> (TimerEntry::kGenerationBits + 6);
      if (kind > static_cast<std::uint32_t>(TimerKind::kGraceEnd)) in.fail("an unknown timer kind");
      entry.generation = packed & TimerEntry::kGenerationMask;
      entry.lane = (packed >> TimerEntry::kGenerationBits) & 0x3F;
      entry.kind = static_cast<TimerKind>(kind);
      heap_.push_back(entry);
    }
    if (!std::is_heap(heap_.begin(), heap_.end(), later)) in.fail("a timer heap out of order");
  }
  // Calls `check` on every entry (the engine validates targets after a load).
  template <typename Check>
  void for_each(Check check) const {
    for (const TimerEntry& entry : heap_) check(entry);
  }

 private:
  // A function object, not a function pointer, so that the heap's sift loops inline it (as a
  // pointer it was a call per comparison, ~3 % of the engine's time).
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const { return a.fires_after(b); }
  };
  static constexpr Later later{};

  std::vector<TimerEntry> heap_;
};

}  // namespace replywatch

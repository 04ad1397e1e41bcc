// Finds a conversation's slot by (shop, key) hash. Open addressing with linear probing and
// backward-shift deletion: 8 bytes a slot, no per-entry allocation, which is most of what a
// node-based set would cost per open round. The table grows in 1.5x steps up to 7/8 full (the
// home slot is picked by multiply-shift, so any size works): 9-14 bytes an entry, where doubling
// left 9-18.
#pragma once

#include <cstdint>
#include <vector>

#include "huge_pages.h"

namespace replywatch {

class ConversationIndex {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  // `matches(index)` says whether slot `index` holds the key being looked for.
  template <typename Matches>
  std::uint32_t find(std::uint64_t hash, Matches matches) const {
    if (slots_.empty()) return kNone;
    const auto fingerprint = static_cast<std::uint32_t>(hash);
    for (std::size_t i = home(hash);; i = next(i)) {
      const Slot& slot = slots_[i];
      if (slot.index == kNone) return kNone;
      if (slot.fingerprint == fingerprint && matches(slot.index)) return slot.index;
    }
  }

  void insert(std::uint64_t hash, std::uint32_t index) {
    if ((size_ + 1) * 8 > slots_.size() * 7) grow();
    place(Slot{static_cast<std::uint32_t>(hash), index});
    ++size_;
  }

  // Removes the entry for slot `index` whose key hashes to `hash`.
  void erase(std::uint64_t hash, std::uint32_t index) {
    if (slots_.empty()) return;
    std::size_t i = home(hash);
    while (slots_[i].index != index) {
      if (slots_[i].index == kNone) return;
      i = next(i);
    }
    // Shift later entries of the same probe run back so that no search stops early.
    for (std::size_t later = next(i); slots_[later].index != kNone; later = next(later)) {
      const std::size_t wanted = home(slots_[later].fingerprint);
      if (distance(wanted, later) >= distance(i, later)) {
        slots_[i] = slots_[later];
        i = later;
      }
    }
    slots_[i] = Slot{};
    --size_;
  }

  std::size_t size() const { return size_; }

  // Room for `entries` without growing on the way: a snapshot's load knows how many come.
  void reserve(std::size_t entries) {
    std::size_t capacity = slots_.empty() ? 16 : slots_.size();
    while (entries * 8 > capacity * 7) capacity *= 2;
    if (capacity == slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.reserve(capacity);
    advise_huge_pages(slots_.data(), capacity * sizeof(Slot));
    slots_.resize(capacity);
    for (const Slot& slot : old) {
      if (slot.index != kNone) place(slot);
    }
  }

 private:
  struct Slot {
    std::uint32_t fingerprint = 0;  // low 32 bits of the hash; also picks the home slot
    std::uint32_t index = kNone;
  };

  // Multiply-shift: the low 32 bits of the hash onto [0, size).
  std::size_t home(std::uint64_t hash) const {
    return static_cast<std::size_t>(
        (std::uint64_t{static_cast<std::uint32_t>(hash)} * slots_.size()) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }
  // Steps from slot `from` forward to slot `to`, wrapping at the end.
  std::size_t distance(std::size_t from, std::size_t to) const {
    return to >= from ? to - from : to + slots_.size() - from;
  }

  void place(Slot slot) {
    std::size_t i = home(slot.fingerprint);
    while (slots_[i].index != kNone) i = next(i);
    slots_[i] = slot;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_ = advised_vector<Slot>(old.empty() ? 16 : old.size() + old.size() / 2);
    for (const Slot& slot : old) {
      if (slot.index != kNone) place(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace replywatch

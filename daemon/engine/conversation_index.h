// Finds a conversation's slot by (shop, key) hash. Open addressing with linear probing and
// backward-shift deletion: 8 bytes a slot, no per-entry allocation, which is most of what a
// node-based set would cost per open round.
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
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
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
      i = (i + 1) & mask_;
    }
    // Shift later entries of the same probe run back so that no search stops early.
    for (std::size_t next = (i + 1) & mask_; slots_[next].index != kNone;
         next = (next + 1) & mask_) {
      const std::size_t wanted = slots_[next].fingerprint & mask_;
      const bool movable = ((next - wanted) & mask_) >= ((next - i) & mask_);
      if (movable) {
        slots_[i] = slots_[next];
        i = next;
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
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.index != kNone) place(slot);
    }
  }

 private:
  struct Slot {
    std::uint32_t fingerprint = 0;  // low 32 bits of the hash; also picks the home slot
    std::uint32_t index = kNone;
  };

  std::size_t home(std::uint64_t hash) const { return static_cast<std::uint32_t>(hash) & mask_; }

  void place(Slot slot) {
    std::size_t i = slot.fingerprint & mask_;
    while (slots_[i].index != kNone) i = (i + 1) & mask_;
    slots_[i] = slot;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.index != kNone) place(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace replywatch

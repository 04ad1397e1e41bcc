// The accepted (platform, shop, id) triples that still make later copies duplicates (SPEC §1),
// each as a 128-bit keyed hash and the instant its retention ends: 24 bytes a slot in one flat
// array, instead of the triple's strings in a node-based set (about 150 bytes an id).
//
// Two different triples are confused only when their 128-bit hashes are equal. For n remembered
// ids that has probability about n² / 2¹²⁹: 3·10⁻²³ at 10⁸ ids, far below any hardware fault
// rate. The hash is SipHash, so ids cannot be chosen to collide without its key.
//
// Open addressing with linear probing, grown in 1.5x steps so that the array is 53-80 % full.
// Expired entries are dropped (by rebuilding the array) when the table would otherwise grow, and
// a lookup treats them as absent before then, so memory follows the ids inside the retention,
// not every id ever seen.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "keyed_hash.h"
#include "replywatch/time.h"

namespace replywatch {

class DedupTable {
 public:
  // The key of one event: platform index, shop and id, each length-delimited so that no two
  // triples share a byte string.
  static Hash128 key_of(std::uint32_t platform, std::string_view shop, std::string_view id) {
    SipHash128 hash(kKey0, kKey1);
    const std::uint32_t header[2] = {platform, static_cast<std::uint32_t>(shop.size())};
    hash.update(std::string_view(reinterpret_cast<const char*>(header), sizeof header));
    hash.update(shop);
    hash.update(id);
    return hash.finish();
  }

  // Whether `key` was remembered with a retention end at or after `now`.
  bool contains(const Hash128& key, Instant now) const {
    if (slots_.empty()) return false;
    const Hash128 stored = stored_form(key);
    for (std::size_t i = home(stored);; i = next(i)) {
      const Slot& slot = slots_[i];
      if (slot.empty()) return false;
      if (slot.key == stored) return slot.expires >= now;
    }
  }

  // Remembers `key` until `expires` unless it is remembered at `now` already. Returns whether it
  // was (a duplicate); then nothing changes.
  bool insert_unless_present(const Hash128& key, Instant expires, Instant now) {
    if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) make_room(now);
    const Hash128 stored = stored_form(key);
    for (std::size_t i = home(stored);; i = next(i)) {
      Slot& slot = slots_[i];
      if (slot.empty()) {
        slot = Slot{stored, expires};
        ++size_;
        return false;
      }
      if (slot.key == stored) {
        if (slot.expires >= now) return true;
        slot.expires = expires;  // expired but not yet dropped: this copy counts anew
        return false;
      }
    }
  }

  // Drops every entry whose retention ended before `now`.
  void drop_expired(Instant now) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size(), Slot{});
    size_ = 0;
    for (const Slot& slot : old) {
      if (!slot.empty() && slot.expires >= now) place(slot);
    }
  }

  // Entries held, expired ones not yet dropped included.
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

 private:
  // Fixed: finding two triples with equal hashes costs about 2⁶⁴ hash evaluations even knowing
  // the key, so a secret key would add nothing that matters here.
  static constexpr std::uint64_t kKey0 = 0x7265706c79776174ULL;
  static constexpr std::uint64_t kKey1 = 0x6368206465647570ULL;
  static constexpr std::size_t kMaxLoadNum = 4;
  static constexpr std::size_t kMaxLoadDen = 5;
  static constexpr std::size_t kInitialSlots = 64;

  struct Slot {
    Hash128 key;  // all zero: empty
    Instant expires{};
    bool empty() const { return key.low == 0 && key.high == 0; }
  };

  // The all-zero hash marks an empty slot, so it is stored as another value.
  static Hash128 stored_form(Hash128 key) {
    if (key.low == 0 && key.high == 0) key.low = 1;
    return key;
  }

  std::size_t home(const Hash128& key) const {
    // Multiply-shift maps 32 bits of the hash onto any table size below 2³², not only powers
    // of two.
    return static_cast<std::size_t>(((key.high >> 32) * slots_.size()) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }

  void place(const Slot& slot) {
    std::size_t i = home(slot.key);
    while (!slots_[i].empty()) i = next(i);
    slots_[i] = slot;
    ++size_;
  }

  void make_room(Instant now) {
    if (!slots_.empty()) {
      drop_expired(now);
      // Grow only when the live entries would leave the table more than half full.
      if ((size_ + 1) * 2 <= slots_.size()) return;
    }
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? kInitialSlots : old.size() + old.size() / 2, Slot{});
    size_ = 0;
    for (const Slot& slot : old) {
      if (!slot.empty()) place(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace replywatch

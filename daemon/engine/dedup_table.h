// The accepted (platform, shop, id) triples that still make later copies duplicates
// (docs/events.md), each as 96 bits of a 128-bit keyed hash and the instant its retention ends: 20
// bytes a slot in one flat array, instead of the triple's strings in a node-based set (about 150
// bytes an id).
//
// Two different triples are confused only when those 96 bits are equal. For n remembered ids
// that has probability about n² / 2⁹⁷: 6·10⁻¹⁴ at 10⁸ ids (a hundred million ids inside one
// retention), far below the rate of undetected memory or disk faults. The hash is SipHash, a
// pseudo-random function, so its bits are as good as random for ids nobody chose to collide.
// Chosen ids: finding two of one's own that collide costs about 2⁴⁸ hash evaluations and only
// makes one's own second event a duplicate; matching another sender's id costs about 2⁹⁶.
//
// Open addressing with linear probing, grown in 1.25x steps so that the array is 64-80 % full
// (32 bytes an id at most, 28 on average; 1.5x steps gave 37 at most).
// Expired entries are dropped (by rebuilding the array) when the table would otherwise grow, and
// a lookup treats them as absent before then, so memory follows the ids inside the retention,
// not every id ever seen.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "huge_pages.h"
#include "keyed_hash.h"
#include "replywatch/snapshot_codec.h"
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
    const Slot wanted = Slot::of(key, now);
    for (std::size_t i = home(wanted);; i = next(i)) {
      const Slot& slot = slots_[i];
      if (slot.empty()) return false;
      if (slot.same_key(wanted)) return slot.expires() >= now;
    }
  }

  // Starts loading the slot a probe for `key` begins at, so that a probe a few keys later does
  // not wait for memory: at millions of ids that first slot is a cache miss, the largest part of
  // a probe's cost. Changes nothing.
  void prefetch(const Hash128& key) const {
    if (slots_.empty()) return;
    __builtin_prefetch(&slots_[home(Slot::of(key, Instant{}))], 1);
  }

  // Remembers `key` until `expires` unless it is remembered at `now` already. Returns whether it
  // was (a duplicate); then nothing changes.
  bool insert_unless_present(const Hash128& key, Instant expires, Instant now) {
    if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) make_room(now);
    const Slot wanted = Slot::of(key, expires);
    for (std::size_t i = home(wanted);; i = next(i)) {
      Slot& slot = slots_[i];
      if (slot.empty()) {
        slot = wanted;
        ++size_;
        earliest_expiry_ = std::min(earliest_expiry_, expires);
        return false;
      }
      if (slot.same_key(wanted)) {
        if (slot.expires() >= now) return true;
        slot = wanted;  // expired but not yet dropped: this copy counts anew
        earliest_expiry_ = std::min(earliest_expiry_, expires);
        return false;
      }
    }
  }

  // Makes `key` absent at any instant (its retention ended before any watermark, even
  // kInstantMin), as if never inserted; it is dropped at the next rebuild.
  void forget(const Hash128& key) {
    if (slots_.empty()) return;
    const Instant never = Instant(Duration(std::numeric_limits<std::int64_t>::min()));
    const Slot wanted = Slot::of(key, never);
    for (std::size_t i = home(wanted);; i = next(i)) {
      Slot& slot = slots_[i];
      if (slot.empty()) return;
      if (slot.same_key(wanted)) {
        slot = wanted;
        earliest_expiry_ = never;
        return;
      }
    }
  }

  // Drops every entry whose retention ended before `now`.
  void drop_expired(Instant now) {
    std::vector<Slot> old = std::move(slots_);
    slots_ = advised_vector<Slot>(old.size());
    size_ = 0;
    earliest_expiry_ = kInstantMax;
    for (const Slot& slot : old) {
      if (slot.empty() || slot.expires() < now) continue;
      place(slot);
      earliest_expiry_ = std::min(earliest_expiry_, slot.expires());
    }
  }

  // The slot array as it is in memory (20-byte slots of 4-byte words): the table's largest part
  // at millions of ids, written and read in one piece.
  void save(SnapshotWriter& out) const {
    out.u64(size_);
    out.u64(slots_.size());
    out.raw(slots_.data(), slots_.size() * sizeof(Slot));
  }
  void load(SnapshotReader& in) {
    const std::uint64_t size = in.u64();
    const std::size_t capacity = in.count(sizeof(Slot));
    std::vector<Slot>().swap(slots_);
    slots_.reserve(capacity);  // allocated, not yet touched: advised before the first write
    advise_huge_pages(slots_.data(), capacity * sizeof(Slot));
    slots_.resize(capacity);
    in.raw(slots_.data(), slots_.size() * sizeof(Slot));
    std::size_t used = 0;
    earliest_expiry_ = kInstantMax;
    for (const Slot& slot : slots_) {
      if (slot.empty()) continue;
      ++used;
      earliest_expiry_ = std::min(earliest_expiry_, slot.expires());
    }
    if (used != size || (!slots_.empty() && used == slots_.size())) {
      in.fail("a dedup table whose entries do not add up");
    }
    size_ = used;
  }

  // Entries held, expired ones not yet dropped included.
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

 private:
  // Fixed, not secret: the collision bound above does not depend on it.
  static constexpr std::uint64_t kKey0 = 0x7265706c79776174ULL;
  static constexpr std::uint64_t kKey1 = 0x6368206465647570ULL;
  static constexpr std::size_t kMaxLoadNum = 4;
  static constexpr std::size_t kMaxLoadDen = 5;
  static constexpr std::size_t kInitialSlots = 64;

  // 4-byte words only, so that a slot packs to 20 bytes.
  struct Slot {
    std::uint32_t key[3] = {};  // 96 bits of the hash; all zero: empty
    std::uint32_t expires_low = 0;
    std::uint32_t expires_high = 0;

    static Slot of(const Hash128& hash, Instant expires) {
      Slot slot;
      slot.key[0] = static_cast<std::uint32_t>(hash.high >> 32);  // also picks the home slot
      slot.key[1] = static_cast<std::uint32_t>(hash.high);
      slot.key[2] = static_cast<std::uint32_t>(hash.low);
      // The all-zero hash marks an empty slot, so it is stored as another value.
      if (slot.empty()) slot.key[2] = 1;
      const auto ms = static_cast<std::uint64_t>(expires.time_since_epoch().count());
      slot.expires_low = static_cast<std::uint32_t>(ms);
      slot.expires_high = static_cast<std::uint32_t>(ms >> 32);
      return slot;
    }
    bool empty() const { return (key[0] | key[1] | key[2]) == 0; }
    bool same_key(const Slot& other) const {
      return key[0] == other.key[0] && key[1] == other.key[1] && key[2] == other.key[2];
    }
    Instant expires() const {
      const std::uint64_t ms = (std::uint64_t{expires_high} << 32) | expires_low;
      return Instant(Duration(static_cast<std::int64_t>(ms)));
    }
  };
  static_assert(sizeof(Slot) == 20);

  std::size_t home(const Slot& slot) const {
    // Multiply-shift maps 32 bits of the hash onto any table size below 2³², not only powers
    // of two.
    return static_cast<std::size_t>((std::uint64_t{slot.key[0]} * slots_.size()) >> 32);
  }
  std::size_t next(std::size_t i) const { return i + 1 == slots_.size() ? 0 : i + 1; }

  void place(const Slot& slot) {
    std::size_t i = home(slot);
    while (!slots_[i].empty()) i = next(i);
    slots_[i] = slot;
    ++size_;
  }

  // One rebuild that both drops the expired entries and, when the live ones would leave the
  // table more than half full, grows it: each entry is placed once per rebuild. Small steps
  // cost more rebuilds (each id is placed about 5 times on the way to n, against 3 for 1.5x
  // steps) but keep the table, the largest part of an open round's memory after the
  // conversation itself, nearer its 80 % bound.
  void make_room(Instant now) {
    // While nothing can have expired (a day's traffic inside a day's retention), every entry
    // is live and the count needs no pass over the table.
    const bool any_expired = earliest_expiry_ < now;
    std::size_t live = size_;
    if (any_expired) {
      live = 0;
      for (const Slot& slot : slots_) {
        if (!slot.empty() && slot.expires() >= now) ++live;
      }
    }
    std::size_t size = slots_.size();
    if (size == 0) {
      size = kInitialSlots;
    } else if ((live + 1) * 2 > size) {
      size += size / 4;
    }
    std::vector<Slot> old = std::move(slots_);
    slots_ = advised_vector<Slot>(size);
    size_ = 0;
    earliest_expiry_ = kInstantMax;
    for (const Slot& slot : old) {
      if (slot.empty() || (any_expired && slot.expires() < now)) continue;
      place(slot);
      earliest_expiry_ = std::min(earliest_expiry_, slot.expires());
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  Instant earliest_expiry_ = kInstantMax;  // of the entries held; none: kInstantMax
};

}  // namespace replywatch

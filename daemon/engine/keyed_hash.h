// SipHash-2-4 (Aumasson and Bernstein), 128-bit output: a keyed hash whose outputs behave as
// random for inputs the key's holder did not choose, so the dedup table can keep 16 bytes in
// place of an event's (platform, shop, id).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace replywatch {

struct Hash128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

class SipHash128 {
 public:
  SipHash128(std::uint64_t key0, std::uint64_t key1)
      : v0_(key0 ^ 0x736f6d6570736575ULL),
        v1_(key1 ^ 0x646f72616e646f6dULL ^ 0xee),
        v2_(key0 ^ 0x6c7967656e657261ULL),
        v3_(key1 ^ 0x7465646279746573ULL) {}

  // Feeds bytes; any split of the same bytes over several calls gives the same hash.
  void update(std::string_view bytes) {
    length_ += bytes.size();
    const char* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const std::size_t take = std::min<std::size_t>(8 - pending_size_, left);
      std::memcpy(pending_ + pending_size_, data, take);
      pending_size_ += take;
      data += take;
      left -= take;
      if (pending_size_ == 8) {
        compress(load_le(pending_, 8));
        pending_size_ = 0;
      }
    }
  }

  Hash128 finish() {
    const std::uint64_t last = load_le(pending_, pending_size_) | (std::uint64_t{length_} << 56);
    compress(last);
    v2_ ^= 0xee;
    for (int i = 0; i < 4; ++i) round();
    Hash128 out;
    out.low = v0_ ^ v1_ ^ v2_ ^ v3_;
    v1_ ^= 0xdd;
    for (int i = 0; i < 4; ++i) round();
    out.high = v0_ ^ v1_ ^ v2_ ^ v3_;
    return out;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

  static std::uint64_t load_le(const unsigned char* bytes, std::size_t size) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i) value |= std::uint64_t{bytes[i]} << (8 * i);
    return value;
  }

  void round() {
    v0_ += v1_;
    v1_ = rotl(v1_, 13);
    v1_ ^= v0_;
    v0_ = rotl(v0_, 32);
    v2_ += v3_;
    v3_ = rotl(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = rotl(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = rotl(v1_, 17);
    v1_ ^= v2_;
    v2_ = rotl(v2_, 32);
  }

  void compress(std::uint64_t word) {
    v3_ ^= word;
    round();
    round();
    v0_ ^= word;
  }

  std::uint64_t v0_, v1_, v2_, v3_;
  unsigned char pending_[8] = {};
  std::size_t pending_size_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace replywatch

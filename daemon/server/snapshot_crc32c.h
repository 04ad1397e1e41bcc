// CRC32C (Castagnoli), for snapshot checksums. A stand-in until the storage library's own
// crc32c.h is merged; the value is the standard one either way (crc32c("123456789") =
// 0xE3069283), so snapshots written before the switch still verify after it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace replywatch::server {

namespace snapshot_crc_detail {
// Slicing by 8: eight tables, eight bytes per step.
inline const std::array<std::array<std::uint32_t, 256>, 8>& tables() {
  static const auto built = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1U) != 0 ? 0x82F63B78U : 0U);
      t[0][i] = crc;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (std::size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
    }
    return t;
  }();
  return built;
}
}  // namespace snapshot_crc_detail

// Extends `crc` (0 to start) over `size` bytes.
inline std::uint32_t snapshot_crc32c(std::uint32_t crc, const void* data, std::size_t size) {
  const auto& t = snapshot_crc_detail::tables();
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (size >= 8) {
    const std::uint32_t low = crc ^ (std::uint32_t{bytes[0]} | std::uint32_t{bytes[1]} << 8 |
                                     std::uint32_t{bytes[2]} << 16 | std::uint32_t{bytes[3]} << 24);
    crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^
          t[3][bytes[4]] ^ t[2][bytes[5]] ^ t[1][bytes[6]] ^ t[0][bytes[7]];
    bytes += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *bytes++) & 0xFF];
  return ~crc;
}

}  // namespace replywatch::server

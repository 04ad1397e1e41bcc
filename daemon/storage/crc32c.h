// CRC-32C (Castagnoli): the checksum of every log record's frame. It detects all burst errors up
// to 32 bits and is what ext4, iSCSI and Prometheus' WAL use for the same job.
#pragma once

#include <boost/crc.hpp>
#include <cstdint>
#include <string_view>

namespace replywatch::storage {

// Polynomial 0x1EDC6F41, reflected in and out, initial value and final xor 0xFFFFFFFF.
using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

inline std::uint32_t crc32c(std::string_view bytes) {
  Crc32c crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

// Continues `crc` over `bytes`, so that a frame's header and payload are checked as one.
inline void crc32c_update(Crc32c& crc, std::string_view bytes) {
  crc.process_bytes(bytes.data(), bytes.size());
}

}  // namespace replywatch::storage

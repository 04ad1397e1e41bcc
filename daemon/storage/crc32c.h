// CRC-32C (Castagnoli): the checksum of every log record's frame and of snapshot files. It
// detects all burst errors up to 32 bits and is what ext4, iSCSI and Prometheus' WAL use for the
// same job.
//
// x86-64 processors since 2008 compute it in hardware (SSE4.2's crc32 instruction, 8 bytes per
// instruction); a restart checks the whole snapshot and every log record after it, where Boost's
// byte-at-a-time table was a tenth of the time. Where the instruction is missing (checked once at
// run time, or another architecture) Boost.CRC's table computes the same value.
#pragma once

#include <boost/crc.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace replywatch::storage {

namespace crc32c_detail {

// The CRC's running register as the crc32 instruction keeps it: reflected, starting at
// 0xFFFFFFFF; the checksum is its complement.
inline constexpr std::uint32_t kInitialRegister = 0xFFFFFFFFu;

// Polynomial 0x1EDC6F41, reflected in and out, initial value and final xor 0xFFFFFFFF.
using BoostCrc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

inline std::uint32_t reverse_bits(std::uint32_t value) {
  value = ((value >> 1) & 0x55555555u) | ((value & 0x55555555u) << 1);
  value = ((value >> 2) & 0x33333333u) | ((value & 0x33333333u) << 2);
  value = ((value >> 4) & 0x0F0F0F0Fu) | ((value & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(value);
}

// Boost keeps its interim remainder unreflected: the register's bits in reverse order.
inline std::uint32_t update_table(std::uint32_t crc_register, const char* data, std::size_t size) {
  BoostCrc32c crc(reverse_bits(crc_register));
  crc.process_bytes(data, size);
  return reverse_bits(crc.get_interim_remainder());
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline std::uint32_t update_sse42(std::uint32_t crc_register,
                                                                    const char* data,
                                                                    std::size_t size) {
  std::uint64_t crc = crc_register;
  for (; size >= 8; size -= 8, data += 8) {
    std::uint64_t word;
    std::memcpy(&word, data, sizeof word);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  for (; size > 0; --size, ++data) {
    crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*data));
  }
  return crc32;
}

inline bool hardware_available() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#else
inline bool hardware_available() { return false; }
#endif

inline std::uint32_t update(std::uint32_t crc_register, const char* data, std::size_t size) {
#if defined(__x86_64__)
  if (hardware_available()) return update_sse42(crc_register, data, size);
#endif
  return update_table(crc_register, data, size);
}

}  // namespace crc32c_detail

// An incremental CRC-32C, so that a frame's length and payload, or a snapshot written in pieces,
// are checked as one.
class Crc32c {
 public:
  void process_bytes(const void* data, std::size_t size) {
    register_ = crc32c_detail::update(register_, static_cast<const char*>(data), size);
  }
  std::uint32_t checksum() const { return ~register_; }

 private:
  std::uint32_t register_ = crc32c_detail::kInitialRegister;
};

inline std::uint32_t crc32c(std::string_view bytes) {
  return ~crc32c_detail::update(crc32c_detail::kInitialRegister, bytes.data(), bytes.size());
}

// Continues `crc` over `bytes`.
inline void crc32c_update(Crc32c& crc, std::string_view bytes) {
  crc.process_bytes(bytes.data(), bytes.size());
}

}  // namespace replywatch::storage

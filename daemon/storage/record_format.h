// How one LogRecord is stored: a compact binary payload inside a checksummed frame.
//
// Frame: [crc32c, u32 LE][payload length, u32 LE][payload]; the checksum covers the length
// bytes and the payload, so a damaged length is caught as surely as damaged content.
//
// Payload, format 1:
//   u8      format version (1)
//   u8      flags: bits 0-2 event type, bit 3 continues_batch, bit 4 online,
//           bit 5 channel is "chat" (then not stored)
//   varint  watermark, ms since the epoch
//   varint  event ts - watermark, zigzag
//   strings id, platform, shop, conversation, bot, agent[, channel]: varint length + bytes
// Decoding checks what the JSON decoder checks (lengths of id, shop and conversation, time
// range, type), so a record that decodes is an event the daemon could have accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "event_log.h"

namespace replywatch::storage {

inline constexpr std::uint8_t kRecordFormatVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 8;
// Larger than any event a request can carry (the body limit's default is 16 MiB); a frame that
// claims more is damage.
inline constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;

// Appends the record's payload.
void encode_record(std::string& out, const LogRecord& record);
void encode_record(std::string& out, Instant watermark, bool continues_batch, const Event& event);

// False when `payload` is not a record of a known format (nothing said about `out`).
bool decode_record(std::string_view payload, LogRecord& out);

// Appends one frame holding the encoded record.
void append_framed_record(std::string& out, Instant watermark, bool continues_batch,
                          const Event& event);
void append_frame(std::string& out, std::string_view payload);

enum class FrameCheck : std::uint8_t {
  kComplete,     // `payload` and `frame_bytes` are set
  kTruncated,    // the bytes end inside the frame
  kBadLength,    // a length no frame may have
  kBadChecksum,  // complete, but the checksum does not match
};

// Checks the frame at the start of `bytes`.
FrameCheck check_frame(std::string_view bytes, std::string_view& payload, std::size_t& frame_bytes);

std::string_view frame_check_text(FrameCheck check);

}  // namespace replywatch::storage

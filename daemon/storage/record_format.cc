#include "record_format.h"

#include <array>

#include "crc32c.h"

namespace replywatch::storage {
namespace {

constexpr std::uint8_t kTypeMask = 0x07;
constexpr std::uint8_t kContinuesBatch = 0x08;
constexpr std::uint8_t kOnline = 0x10;
constexpr std::uint8_t kDefaultChannel = 0x20;
constexpr std::uint8_t kKnownFlags = 0x3f;
constexpr std::string_view kDefaultChannelName = "chat";
// The JSON decoder's bounds (event_codec.cc).
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxShopBytes = 128;
constexpr std::size_t kMaxConversationBytes = 256;

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_string(std::string& out, std::string_view text) {
  put_varint(out, text.size());
  out.append(text);
}

void put_u32(char* at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

std::uint32_t get_u32(const char* at) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= std::uint32_t{static_cast<unsigned char>(at[i])} << (8 * i);
  }
  return value;
}

std::uint64_t zigzag(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::int64_t unzigzag(std::uint64_t value) {
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}

  bool byte(std::uint8_t& out) {
    if (bytes_.empty()) return false;
    out = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return true;
  }

  bool varint(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!byte(b)) return false;
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      out |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  bool string(std::string& out, std::size_t min_bytes, std::size_t max_bytes) {
    std::uint64_t size = 0;
    if (!varint(size) || size > bytes_.size() || size < min_bytes || size > max_bytes) {
      return false;
    }
    out.assign(bytes_.data(), size);
    bytes_.remove_prefix(size);
    return true;
  }

  bool done() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

bool in_time_range(std::int64_t millis) { return millis >= 0 && millis <= kMaxEpochMillis; }

}  // namespace

void encode_record(std::string& out, const LogRecord& record) {
  encode_record(out, record.watermark, record.continues_batch, record.event);
}

void encode_record(std::string& out, Instant watermark, bool continues_batch, const Event& event) {
  const bool default_channel = event.channel == kDefaultChannelName;
  std::uint8_t flags = static_cast<std::uint8_t>(event.type) & kTypeMask;
  if (continues_batch) flags |= kContinuesBatch;
  if (event.online) flags |= kOnline;
  if (default_channel) flags |= kDefaultChannel;
  out.push_back(static_cast<char>(kRecordFormatVersion));
  out.push_back(static_cast<char>(flags));
  const std::int64_t mark = watermark.time_since_epoch().count();
  put_varint(out, static_cast<std::uint64_t>(mark));
  put_varint(out, zigzag(event.ts.time_since_epoch().count() - mark));
  put_string(out, event.id);
  put_string(out, event.platform);
  put_string(out, event.shop);
  put_string(out, event.conversation);
  put_string(out, event.bot);
  put_string(out, event.agent);
  if (!default_channel) put_string(out, event.channel);
}

bool decode_record(std::string_view payload, LogRecord& out) {
  PayloadReader in(payload);
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  if (!in.byte(version) || version != kRecordFormatVersion || !in.byte(flags)) return false;
  if ((flags & ~kKnownFlags) != 0 || (flags & kTypeMask) >= kEventTypeCount) return false;
  std::uint64_t mark = 0;
  std::uint64_t offset = 0;
  if (!in.varint(mark) || !in.varint(offset)) return false;
  if (mark > static_cast<std::uint64_t>(kMaxEpochMillis)) return false;
  const auto watermark = static_cast<std::int64_t>(mark);
  const std::int64_t ts = watermark + unzigzag(offset);  // both bounded: cannot overflow
  if (!in_time_range(ts)) return false;
  Event& event = out.event;
  event.type = static_cast<EventType>(flags & kTypeMask);
  const bool needs_conversation = event.type != EventType::kAgentStatus;
  if (!in.string(event.id, 1, kMaxIdBytes) || !in.string(event.platform, 0, kMaxPayloadBytes) ||
      !in.string(event.shop, 1, kMaxShopBytes) ||
      !in.string(event.conversation, needs_conversation ? 1 : 0, kMaxConversationBytes) ||
      !in.string(event.bot, 0, kMaxPayloadBytes) || !in.string(event.agent, 0, kMaxPayloadBytes)) {
    return false;
  }
  if ((flags & kDefaultChannel) != 0) {
    event.channel.assign(kDefaultChannelName);
  } else if (!in.string(event.channel, 0, kMaxPayloadBytes)) {
    return false;
  }
  if (!in.done()) return false;
  event.online = (flags & kOnline) != 0;
  event.ts = Instant(Duration(ts));
  out.watermark = Instant(Duration(watermark));
  out.continues_batch = (flags & kContinuesBatch) != 0;
  return true;
}

void append_framed_record(std::string& out, Instant watermark, bool continues_batch,
                          const Event& event) {
  const std::size_t start = out.size();
  out.append(kFrameHeaderBytes, '\0');
  encode_record(out, watermark, continues_batch, event);
  const auto size = static_cast<std::uint32_t>(out.size() - start - kFrameHeaderBytes);
  put_u32(out.data() + start + 4, size);
  Crc32c crc;
  crc.process_bytes(out.data() + start + 4, out.size() - start - 4);
  put_u32(out.data() + start, crc.checksum());
}

void append_frame(std::string& out, std::string_view payload) {
  std::array<char, kFrameHeaderBytes> header{};
  put_u32(header.data() + 4, static_cast<std::uint32_t>(payload.size()));
  Crc32c crc;
  crc.process_bytes(header.data() + 4, 4);
  crc.process_bytes(payload.data(), payload.size());
  put_u32(header.data(), crc.checksum());
  out.append(header.data(), header.size());
  out.append(payload);
}

FrameCheck check_frame(std::string_view bytes, std::string_view& payload,
                       std::size_t& frame_bytes) {
  if (bytes.size() < kFrameHeaderBytes) return FrameCheck::kTruncated;
  const std::uint32_t size = get_u32(bytes.data() + 4);
  if (size == 0 || size > kMaxPayloadBytes) return FrameCheck::kBadLength;
  if (bytes.size() - kFrameHeaderBytes < size) return FrameCheck::kTruncated;
  Crc32c crc;
  crc.process_bytes(bytes.data() + 4, 4 + std::size_t{size});
  if (crc.checksum() != get_u32(bytes.data())) return FrameCheck::kBadChecksum;
  payload = bytes.substr(kFrameHeaderBytes, size);
  frame_bytes = kFrameHeaderBytes + size;
  return FrameCheck::kComplete;
}

std::string_view frame_check_text(FrameCheck check) {
  static constexpr std::array<std::string_view, 4> kTexts = {
      "complete", "the file ends inside the record", "impossible record length",
      "checksum mismatch"};
  return kTexts.at(static_cast<std::size_t>(check));
}

}  // namespace replywatch::storage

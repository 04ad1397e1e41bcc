#include "event_message.h"

#include <charconv>

namespace replywatch::jetstream {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool needs_escape(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '%'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string escape_header_value(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (needs_escape(byte)) {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

bool unescape_header_value(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

std::string message_id(const Event& event) {
  std::string joined;
  joined.reserve(event.platform.size() + event.shop.size() + event.id.size() + 2);
  joined += event.platform;
  joined += '\n';
  joined += event.shop;
  joined += '\n';
  joined += event.id;
  return escape_header_value(joined);
}

std::string watermark_header(Instant watermark) {
  return std::to_string(watermark.time_since_epoch().count());
}

bool parse_watermark_header(std::string_view text, Instant& out) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return false;
  out = Instant(Duration(value));
  return true;
}

}  // namespace replywatch::jetstream

#include "replywatch/snapshot_codec.h"

#include <fmt/format.h>

namespace replywatch {

SnapshotWriter::SnapshotWriter(Sink sink, std::size_t buffer_bytes)
    : sink_(std::move(sink)), capacity_(buffer_bytes) {
  buffer_.reserve(capacity_);
}

void SnapshotWriter::raw(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    if (buffer_.size() == capacity_) flush();
    const std::size_t take = std::min(size, capacity_ - buffer_.size());
    buffer_.append(bytes, take);
    bytes += take;
    size -= take;
  }
}

void SnapshotWriter::flush() {
  if (buffer_.empty()) return;
  sink_(buffer_);
  written_ += buffer_.size();
  buffer_.clear();
}

bool SnapshotReader::boolean() {
  const std::uint8_t value = u8();
  if (value > 1) fail("a flag that is neither 0 nor 1");
  return value == 1;
}

std::string SnapshotReader::string() { return std::string(string_view()); }

std::string_view SnapshotReader::string_view() {
  const std::size_t size = count(1);
  const std::string_view text = data_.substr(position_, size);
  position_ += size;
  return text;
}

std::size_t SnapshotReader::count(std::size_t min_element_bytes) {
  const std::uint64_t n = u64();
  if (min_element_bytes > 0 && n > remaining() / min_element_bytes) {
    fail(fmt::format("a count of {} that the remaining {} byte(s) cannot hold", n, remaining()));
  }
  if (min_element_bytes == 0 && n > (std::uint64_t{1} << 32)) fail("an implausible count");
  return static_cast<std::size_t>(n);
}

std::uint32_t SnapshotReader::index(std::uint32_t limit) {
  const std::uint32_t value = u32();
  if (value >= limit) fail(fmt::format("an index {} out of range (below {})", value, limit));
  return value;
}

void SnapshotReader::tag(std::uint32_t section) {
  const std::uint32_t found = u32();
  if (found != section) fail(fmt::format("section {:#x} expected, {:#x} found", section, found));
}

void SnapshotReader::raw(void* out, std::size_t size) {
  if (size > remaining()) fail("the data ends in the middle of a value");
  std::memcpy(out, data_.data() + position_, size);
  position_ += size;
}

void SnapshotReader::expect_end() const {
  if (remaining() != 0) fail(fmt::format("{} byte(s) left over", remaining()));
}

void SnapshotReader::fail(std::string_view what) const {
  throw SnapshotError(fmt::format("snapshot damaged at byte {}: {}", position_, what));
}

}  // namespace replywatch

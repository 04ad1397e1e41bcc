// The binary encoding of state snapshots: little-endian fixed-width integers, length-prefixed
// strings and counted sequences. Each stored type writes and reads itself through these two
// classes (a `save`/`load` pair), so a type and its encoding change together.
//
// The reader never trusts what it reads: a count that the remaining bytes cannot hold, a value
// out of its range or a read past the end throws SnapshotError, so a damaged snapshot is refused
// rather than allocating wildly or building a half state. Checksums belong to the file layer,
// which verifies the whole payload before a reader sees it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "replywatch/time.h"

namespace replywatch {

static_assert(std::endian::native == std::endian::little,
              "snapshots store integers in the host's order, which must be little-endian");

class SnapshotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SnapshotWriter {
 public:
  // Receives the encoded bytes in pieces of about `buffer_bytes`, in order.
  using Sink = std::function<void(std::string_view)>;

  explicit SnapshotWriter(Sink sink, std::size_t buffer_bytes = std::size_t{1} << 20);
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void u8(std::uint8_t value) { raw(&value, sizeof value); }
  void u32(std::uint32_t value) { raw(&value, sizeof value); }
  void u64(std::uint64_t value) { raw(&value, sizeof value); }
  void i64(std::int64_t value) { raw(&value, sizeof value); }
  void f64(double value) { raw(&value, sizeof value); }
  void boolean(bool value) { u8(value ? 1 : 0); }
  void instant(Instant value) { i64(value.time_since_epoch().count()); }
  void duration(Duration value) { i64(value.count()); }
  void string(std::string_view text) {
    u64(text.size());
    raw(text.data(), text.size());
  }
  // A marker between sections, so that a reader out of step fails at once and says where.
  void tag(std::uint32_t section) { u32(section); }
  // Bytes as they are in memory (arrays of plain integers).
  void raw(const void* data, std::size_t size);

  // Hands what is buffered to the sink.
  void flush();
  std::uint64_t bytes_written() const { return written_ + buffer_.size(); }

 private:
  Sink sink_;
  std::size_t capacity_;
  std::string buffer_;
  std::uint64_t written_ = 0;
};

class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view data) : data_(data) {}

  std::uint8_t u8() { return fixed<std::uint8_t>(); }
  std::uint32_t u32() { return fixed<std::uint32_t>(); }
  std::uint64_t u64() { return fixed<std::uint64_t>(); }
  std::int64_t i64() { return fixed<std::int64_t>(); }
  double f64() { return fixed<double>(); }
  bool boolean();
  Instant instant() { return Instant(Duration(i64())); }
  Duration duration() { return Duration(i64()); }
  std::string string();
  // A string as a view into the data, valid while the data is: no copy for what is copied
  // elsewhere anyway (a conversation key).
  std::string_view string_view();
  // The number of elements of a sequence whose elements take at least `min_element_bytes`
  // each; refuses a count the remaining bytes cannot hold.
  std::size_t count(std::size_t min_element_bytes);
  // An index that must be below `limit`.
  std::uint32_t index(std::uint32_t limit);
  void tag(std::uint32_t section);
  void raw(void* out, std::size_t size);

  std::size_t remaining() const { return data_.size() - position_; }
  std::size_t position() const { return position_; }
  void expect_end() const;

  [[noreturn]] void fail(std::string_view what) const;

 private:
  template <typename T>
  T fixed() {
    T value;
    raw(&value, sizeof value);
    return value;
  }

  std::string_view data_;
  std::size_t position_ = 0;
};

}  // namespace replywatch

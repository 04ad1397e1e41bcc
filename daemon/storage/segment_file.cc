#include "segment_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "record_format.h"

namespace replywatch::storage {
namespace {

constexpr std::string_view kMagic = "RWLOG\x01\r\n";
constexpr std::size_t kReadChunk = std::size_t{1} << 20;
constexpr int kNameDigits = 20;

LogError system_error(int code, std::string message) {
  return LogError{{code, std::system_category()}, std::move(message)};
}

}  // namespace

std::string segment_path(const std::string& directory, Sequence first) {
  std::string digits = std::to_string(first);
  digits.insert(
      0, static_cast<std::size_t>(kNameDigits) - std::min<std::size_t>(digits.size(), kNameDigits),
      '0');
  return (std::filesystem::path(directory) / (digits + std::string(kSegmentSuffix))).string();
}

std::string segment_header(Sequence first) {
  std::string header(kMagic);
  for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>((first >> (8 * i)) & 0xff));
  return header;
}

bool segment_header_matches(std::string_view header, Sequence first) {
  return header == segment_header(first);
}

std::vector<SegmentName> list_segments(const std::string& directory, LogError& error) {
  std::vector<SegmentName> segments;
  std::error_code code;
  std::filesystem::directory_iterator it(directory, code);
  if (code) {
    if (code != std::errc::no_such_file_or_directory) {
      error = LogError{code, "cannot list the log directory " + directory + ": " + code.message()};
    }
    return segments;
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() != kNameDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
      continue;
    }
    Sequence first = 0;
    const char* end = name.data() + kNameDigits;
    auto [ptr, ec] = std::from_chars(name.data(), end, first);
    if (ec != std::errc{} || ptr != end) continue;
    segments.push_back({first, entry.path().string()});
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentName& a, const SegmentName& b) { return a.first < b.first; });
  return segments;
}

SegmentCursor::~SegmentCursor() {
  if (fd_ >= 0) ::close(fd_);
}

LogError SegmentCursor::open(const SegmentName& segment) {
  path_ = segment.path;
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return system_error(errno, "cannot open " + path_ + ": " + std::strerror(errno));
  if (!fill(0, kSegmentHeaderBytes)) {
    header_torn_ = true;
    return {};
  }
  if (!segment_header_matches(std::string_view(buffer_).substr(0, kSegmentHeaderBytes),
                              segment.first)) {
    return LogError{std::make_error_code(std::errc::illegal_byte_sequence),
                    path_ + " at byte 0: not a segment of this log, or not the one its name says"};
  }
  offset_ = kSegmentHeaderBytes;
  next_ = kSegmentHeaderBytes;
  return {};
}

bool SegmentCursor::fill(std::uint64_t from, std::size_t wanted) {
  if (from < buffer_start_ || from > buffer_start_ + buffer_.size()) {
    buffer_.clear();
    buffer_start_ = from;
  } else if (from - buffer_start_ > kReadChunk) {
    buffer_.erase(0, from - buffer_start_);
    buffer_start_ = from;
  }
  while (buffer_start_ + buffer_.size() < from + wanted) {
    const std::size_t old = buffer_.size();
    const std::size_t chunk =
        std::max(kReadChunk, static_cast<std::size_t>(from + wanted - buffer_start_ - old));
    buffer_.resize(old + chunk);
    ssize_t n = 0;
    do {
      n = ::pread(fd_, buffer_.data() + old, chunk, static_cast<off_t>(buffer_start_ + old));
    } while (n < 0 && errno == EINTR);
    buffer_.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) return false;
  }
  return true;
}

std::string_view SegmentCursor::available(std::uint64_t from) const {
  if (from < buffer_start_ || from > buffer_start_ + buffer_.size()) return {};
  return std::string_view(buffer_).substr(static_cast<std::size_t>(from - buffer_start_));
}

SegmentCursor::Step SegmentCursor::next(LogRecord& record) {
  if (header_torn_) {
    offset_ = 0;
    problem_ = "unfinished segment header";
    return Step::kTorn;
  }
  offset_ = next_;
  fill(offset_, kFrameHeaderBytes);
  std::string_view bytes = available(offset_);
  if (bytes.empty()) return Step::kEnd;
  std::string_view payload;
  std::size_t frame_bytes = 0;
  FrameCheck check = check_frame(bytes, payload, frame_bytes);
  if (check == FrameCheck::kTruncated && bytes.size() >= kFrameHeaderBytes) {
    // Only the header was buffered: read the rest of the frame, if the file has it.
    std::uint32_t size = 0;
    for (int i = 0; i < 4; ++i) {
      size |= std::uint32_t{static_cast<unsigned char>(bytes[4 + i])} << (8 * i);
    }
    fill(offset_, kFrameHeaderBytes + size);
    bytes = available(offset_);
    check = check_frame(bytes, payload, frame_bytes);
  }
  if (check == FrameCheck::kComplete) {
    if (decode_record(payload, record)) {
      next_ = offset_ + frame_bytes;
      return Step::kRecord;
    }
    problem_ = "not a record of a known format";
  } else {
    problem_ = std::string(frame_check_text(check));
  }
  if (const auto valid = find_valid_frame(offset_ + 1)) {
    damage_end_ = *valid;
    return Step::kDamage;
  }
  // Read again next time: a writer may still be finishing this frame.
  buffer_.clear();
  buffer_start_ = offset_;
  return Step::kTorn;
}

void SegmentCursor::skip_damage() { next_ = damage_end_; }

std::optional<std::uint64_t> SegmentCursor::find_valid_frame(std::uint64_t after) {
  // The rare path: everything up to the end of the file is read.
  std::size_t wanted = kReadChunk;
  while (fill(after, wanted)) wanted += kReadChunk;
  const std::string_view rest = available(after);
  LogRecord scratch;
  for (std::size_t i = 0; i + kFrameHeaderBytes <= rest.size(); ++i) {
    std::string_view payload;
    std::size_t frame_bytes = 0;
    if (check_frame(rest.substr(i), payload, frame_bytes) == FrameCheck::kComplete &&
        decode_record(payload, scratch)) {
      return after + i;
    }
  }
  return std::nullopt;
}

std::string SegmentCursor::describe() const {
  return path_ + " at byte " + std::to_string(offset_) + ": " + problem_;
}

}  // namespace replywatch::storage

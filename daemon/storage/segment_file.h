// Segment files: the local log is a directory of them, named by the sequence of their first
// record (20 digits, so names sort as numbers), each a 16-byte header followed by frames
// (record_format.h). Only the newest is written; the others are closed and never change until
// retention removes them whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event_log.h"

namespace replywatch::storage {

inline constexpr std::size_t kSegmentHeaderBytes = 16;
inline constexpr std::string_view kSegmentSuffix = ".seg";

struct SegmentName {
  Sequence first = 0;
  std::string path;
};

std::string segment_path(const std::string& directory, Sequence first);
// The header: an 8-byte magic naming the format, then the first sequence (u64 LE).
std::string segment_header(Sequence first);
bool segment_header_matches(std::string_view header, Sequence first);

// The segments in `directory`, oldest first; other files are ignored. A missing directory has
// none.
std::vector<SegmentName> list_segments(const std::string& directory, LogError& error);

// Reads the frames of one segment front to back, through a bounded buffer. Used by the reader
// and by the check at open.
class SegmentCursor {
 public:
  enum class Step : std::uint8_t {
    kRecord,  // `record` is set; offset() is where its frame starts
    kEnd,     // the file ends after a whole frame
    kTorn,    // bad or unfinished bytes from offset() to the end, nothing valid after them
    kDamage,  // a bad frame at offset() with valid frames after it; skip_damage() moves past
  };

  SegmentCursor() = default;
  SegmentCursor(const SegmentCursor&) = delete;
  SegmentCursor& operator=(const SegmentCursor&) = delete;
  ~SegmentCursor();

  // Opens read-only and checks the header. A file shorter than a header reads as torn at 0.
  LogError open(const SegmentName& segment);

  Step next(LogRecord& record);
  // After kDamage: continues at the next valid frame.
  void skip_damage();
  // After kRecord: the same record comes again.
  void rewind_last() { next_ = offset_; }

  std::uint64_t offset() const { return offset_; }
  // What was wrong at offset() (kTorn, kDamage).
  const std::string& problem() const { return problem_; }
  const std::string& path() const { return path_; }
  // "PATH at byte N: PROBLEM"
  std::string describe() const;

 private:
  // Makes `wanted` bytes from file offset `from` available, as far as the file has them.
  bool fill(std::uint64_t from, std::size_t wanted);
  std::string_view available(std::uint64_t from) const;
  std::optional<std::uint64_t> find_valid_frame(std::uint64_t after);

  int fd_ = -1;
  std::string path_;
  std::string buffer_;
  std::uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  std::uint64_t offset_ = 0;        // where the last frame reported starts
  std::uint64_t next_ = 0;          // where the next frame starts
  std::uint64_t damage_end_ = 0;
  std::string problem_;
  bool header_torn_ = false;
};

}  // namespace replywatch::storage

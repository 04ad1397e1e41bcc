// Reads the segment files of a local log in sequence order, following new segments as they
// appear, so it works beside a writer in this process or another.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "event_log.h"
#include "segment_file.h"

namespace replywatch::storage {

class LocalLogReader final : public EventLogReader {
 public:
  LocalLogReader(std::string directory, Sequence first, ReadOptions options);

  // Lists the segments; fails if the directory cannot be read.
  LogError start();

  bool read(std::size_t max_records, Sequence end, std::vector<LoggedRecord>& out,
            LogError& error) override;
  Sequence next_sequence() const override { return next_; }
  std::uint64_t skipped_records() const override { return skipped_; }

 private:
  LogError open_segment(std::size_t index);
  bool newer_segment_exists(LogError& error);
  LogError damage(const std::string& what);
  bool too_far_ahead(const LogRecord& record) const;

  std::string directory_;
  Sequence wanted_;  // records before this are read but not handed out
  ReadOptions options_;
  std::vector<SegmentName> segments_;
  std::size_t index_ = 0;
  std::unique_ptr<SegmentCursor> cursor_;
  Sequence next_ = 0;
  std::uint64_t skipped_ = 0;
  LogRecord scratch_;
};

}  // namespace replywatch::storage

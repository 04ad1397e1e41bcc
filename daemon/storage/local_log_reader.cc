#include "local_log_reader.h"

#include "replywatch/time.h"

namespace replywatch::storage {

LocalLogReader::LocalLogReader(std::string directory, Sequence first, ReadOptions options)
    : directory_(std::move(directory)), wanted_(first), options_(options), next_(first) {}

LogError LocalLogReader::start() {
  LogError error;
  segments_ = list_segments(directory_, error);
  if (error) return error;
  // Start in the newest segment that begins at or before the first record wanted.
  index_ = 0;
  while (index_ + 1 < segments_.size() && segments_[index_ + 1].first <= wanted_) ++index_;
  if (!segments_.empty()) {
    next_ = std::min(wanted_, segments_[index_].first);
    if (wanted_ < segments_[index_].first) wanted_ = segments_[index_].first;  // retained past
  }
  return {};
}

LogError LocalLogReader::open_segment(std::size_t index) {
  index_ = index;
  cursor_ = std::make_unique<SegmentCursor>();
  next_ = std::max(next_, segments_[index].first);
  return cursor_->open(segments_[index]);
}

bool LocalLogReader::newer_segment_exists(LogError& error) {
  if (index_ + 1 < segments_.size()) return true;
  std::vector<SegmentName> listed = list_segments(directory_, error);
  if (error) return false;
  for (SegmentName& segment : listed) {
    if (segments_.empty() || segment.first > segments_.back().first) {
      segments_.push_back(std::move(segment));
    }
  }
  return index_ + 1 < segments_.size();
}

LogError LocalLogReader::damage(const std::string& what) {
  return LogError{std::make_error_code(std::errc::illegal_byte_sequence),
                  what + " (start with --journal-repair to skip damaged records)"};
}

bool LocalLogReader::too_far_ahead(const LogRecord& record) const {
  const Instant latest = options_.now + options_.max_future_skew;
  return record.watermark > latest || record.event.ts > latest;
}

bool LocalLogReader::read(std::size_t max_records, Sequence end, std::vector<LoggedRecord>& out,
                          LogError& error) {
  std::size_t taken = 0;
  while (taken < max_records && next_ < end) {
    if (!cursor_) {
      if (index_ >= segments_.size()) {
        // None yet (an empty directory): look again.
        newer_segment_exists(error);
        if (error || index_ >= segments_.size()) return false;
      }
      if ((error = open_segment(index_))) return false;
    }
    switch (cursor_->next(scratch_)) {
      case SegmentCursor::Step::kRecord: {
        if (too_far_ahead(scratch_)) {
          const std::string what = cursor_->path() + " at byte " +
                                   std::to_string(cursor_->offset()) + ": a record at " +
                                   format_rfc3339(std::max(scratch_.watermark, scratch_.event.ts)) +
                                   ", later than now + max_future_skew";
          if (!options_.repair) {
            error = damage(what);
            return false;
          }
          ++skipped_;
          ++next_;
          continue;
        }
        if (next_ >= wanted_) {
          out.push_back(LoggedRecord{next_, scratch_});
          ++taken;
        }
        ++next_;
        continue;
      }
      case SegmentCursor::Step::kDamage:
        if (!options_.repair) {
          error = damage(cursor_->describe());
          return false;
        }
        ++skipped_;
        cursor_->skip_damage();
        continue;
      case SegmentCursor::Step::kEnd:
      case SegmentCursor::Step::kTorn: {
        if (!newer_segment_exists(error)) return false;  // the end of what is written
        // A newer segment exists, so this one was finished before it was made: read it to its
        // true end once more (a writer may have added to it since the last read).
        const SegmentCursor::Step again = cursor_->next(scratch_);
        if (again == SegmentCursor::Step::kRecord) {
          // Not at the end after all: take it on the next turn of the loop.
          cursor_->rewind_last();
          continue;
        }
        if (again != SegmentCursor::Step::kEnd) {
          if (!options_.repair) {
            error = damage(cursor_->describe() + " (in a finished segment)");
            return false;
          }
          ++skipped_;
        }
        cursor_.reset();
        ++index_;
        continue;
      }
    }
  }
  return next_ < end;
}

}  // namespace replywatch::storage

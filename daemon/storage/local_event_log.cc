#include "local_event_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "local_log_reader.h"
#include "record_format.h"

namespace replywatch::storage {
namespace {

constexpr int kWriteAheadPauseGroups = 256;

LogError errno_error(const std::string& what) {
  const int code = errno;
  return LogError{{code, std::system_category()}, what + ": " + std::strerror(code)};
}

LogError fault_error(std::error_code code, const std::string& what) {
  return LogError{code, what + ": " + code.message()};
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

LogError fsync_directory(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return errno_error("cannot sync the directory " + path);
  return {};
}

LogError write_all(int fd, std::string_view bytes, std::uint64_t at, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write " + path);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

LocalEventLog::LocalEventLog(LocalLogOptions options) : options_(std::move(options)) {}

LocalEventLog::~LocalEventLog() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_ready_.notify_one();
    writer_.join();
  }
  if (fd_ >= 0) {
    // A closed log ends at its last record.
    if (written_ahead_ > durable_end_ && !lost_) ::ftruncate(fd_, static_cast<off_t>(durable_end_));
    ::close(fd_);
  }
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::unique_ptr<LocalEventLog> LocalEventLog::open(LocalLogOptions options, LogError& error,
                                                   OpenReport* report) {
  std::unique_ptr<LocalEventLog> log(new LocalEventLog(std::move(options)));
  OpenReport ignored;
  error = log->open_files(report != nullptr ? *report : ignored);
  if (error) return nullptr;
  log->writer_ = std::thread([raw = log.get()] { raw->run_writer(); });
  return log;
}

LogError LocalEventLog::open_files(OpenReport& report) {
  const std::string& directory = options_.directory;
  std::error_code code;
  const bool existed = std::filesystem::exists(directory, code);
  std::filesystem::create_directories(directory, code);
  if (code)
    return LogError{code, "cannot create the log directory " + directory + ": " + code.message()};
  dir_fd_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return errno_error("cannot open the log directory " + directory);
  if (!existed) {
    // The new directory's own entry must survive a crash too.
    const std::string parent = std::filesystem::path(directory).parent_path().string();
    const int parent_fd =
        ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd >= 0) {
      ::fsync(parent_fd);
      ::close(parent_fd);
    }
  }
  LogError error;
  std::vector<SegmentName> names = list_segments(directory, error);
  if (error) return error;
  if (names.empty()) {
    report.created = true;
    next_sequence_ = 1;
    first_sequence_ = 1;
    return roll();
  }
  for (const SegmentName& name : names) {
    struct stat info {};
    if (::stat(name.path.c_str(), &info) != 0) return errno_error("cannot stat " + name.path);
    segments_.push_back({name, static_cast<std::uint64_t>(info.st_size)});
  }
  // The newest segment is the only one a crash can have left unfinished: read it whole.
  const SegmentName& last = names.back();
  SegmentCursor cursor;
  if ((error = cursor.open(last))) return error;
  std::uint64_t records = 0;
  std::uint64_t good_end = kSegmentHeaderBytes;
  LogRecord scratch;
  bool torn = false;
  for (bool more = true; more;) {
    switch (cursor.next(scratch)) {
      case SegmentCursor::Step::kRecord:
        ++records;
        break;
      case SegmentCursor::Step::kDamage:
        if (!options_.repair) {
          return LogError{
              std::make_error_code(std::errc::illegal_byte_sequence),
              cursor.describe() + " (start with --journal-repair to skip damaged records)"};
        }
        ++report.skipped_records;
        cursor.skip_damage();
        break;
      case SegmentCursor::Step::kTorn:
        torn = true;
        good_end = cursor.offset();
        report.torn_at = cursor.describe();
        more = false;
        break;
      case SegmentCursor::Step::kEnd:
        good_end = cursor.offset();
        more = false;
        break;
    }
  }
  Segment& newest = segments_.back();
  fd_ = ::open(last.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) return errno_error("cannot open " + last.path + " for writing");
  segment_path_ = last.path;
  if (torn) {
    const std::uint64_t keep = good_end;
    if (cursor.torn_tail_is_zeros() && keep >= kSegmentHeaderBytes) {
      // Space written ahead of use: nothing was lost, and it stays for the next appends.
      report.torn_at.clear();
      durable_end_ = keep;
      written_ahead_ = newest.bytes;
      newest.bytes = keep;
      next_sequence_ = last.first + records;
      first_sequence_ = segments_.front().name.first;
      std::uint64_t kept = 0;
      for (const Segment& segment : segments_) kept += segment.bytes;
      size_bytes_ = kept;
      segment_count_ = segments_.size();
      return {};
    }
    report.torn_bytes = newest.bytes - keep;
    torn_tails_ = 1;
    torn_bytes_ = report.torn_bytes;
    if (keep < kSegmentHeaderBytes) {
      // Cut short while it was being made: write its header again.
      if (::ftruncate(fd_, 0) != 0) return errno_error("cannot cut " + last.path);
      if ((error = write_all(fd_, segment_header(last.first), 0, last.path))) return error;
      newest.bytes = kSegmentHeaderBytes;
    } else {
      if (::ftruncate(fd_, static_cast<off_t>(keep)) != 0) {
        return errno_error("cannot cut the torn tail of " + last.path);
      }
      newest.bytes = keep;
    }
    if (::fdatasync(fd_) != 0) return errno_error("cannot sync " + last.path);
  }
  durable_end_ = newest.bytes;
  written_ahead_ = newest.bytes;
  next_sequence_ = last.first + records;
  first_sequence_ = segments_.front().name.first;
  std::uint64_t total = 0;
  for (const Segment& segment : segments_) total += segment.bytes;
  size_bytes_ = total;
  segment_count_ = segments_.size();
  return {};
}

void LocalEventLog::append(Instant watermark, std::span<const Event* const> events,
                           AppendDone done) {
  Queued item;
  for (std::size_t i = 0; i < events.size(); ++i) {
    append_framed_record(item.frames, watermark, i > 0, *events[i]);
  }
  item.count = events.size();
  item.done = std::move(done);
  enqueue(std::move(item));
}

void LocalEventLog::append_unencoded(Instant watermark, std::vector<const Event*> events,
                                     AppendDone done) {
  Queued item;
  item.count = events.size();
  item.unencoded = std::move(events);
  item.watermark = watermark;
  item.done = std::move(done);
  enqueue(std::move(item));
}

void LocalEventLog::enqueue(Queued item) {
  bool idle = false;
  {
    std::lock_guard lock(queue_mutex_);
    idle = queue_.empty();
    queue_.push_back(std::move(item));
  }
  // A writer with work queued already has been woken (or is writing and will look again).
  if (idle) queue_ready_.notify_one();
}

void LocalEventLog::flush() {
  if (options_.fsync != FsyncPolicy::kInterval) return;
  Queued item;
  item.flush = true;
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(item));
  }
  queue_ready_.notify_one();
}

void LocalEventLog::retain_from(Sequence first_needed) {
  Queued item;
  item.retain = first_needed;
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(item));
  }
  queue_ready_.notify_one();
}

void LocalEventLog::run_writer() {
  std::vector<Queued> work;
  std::vector<Queued> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      work.swap(queue_);
    }
    for (Queued& item : work) {
      if (item.retain != 0) {
        write_group(group);
        apply_retention(item.retain);
      } else if (item.flush) {
        write_group(group);
        sync_written();
      } else {
        group.push_back(std::move(item));
      }
    }
    write_group(group);
    work.clear();
  }
}

void LocalEventLog::write_group(std::vector<Queued>& group) {
  if (group.empty()) return;
  group_buffer_.clear();
  std::size_t records = 0;
  for (const Queued& item : group) {
    group_buffer_ += item.frames;
    for (std::size_t i = 0; i < item.unencoded.size(); ++i) {
      append_framed_record(group_buffer_, item.watermark, i > 0, *item.unencoded[i]);
    }
    records += item.count;
  }
  LogError error;
  {
    std::lock_guard lock(file_mutex_);
    if (lost_) {
      error = lost_error_;
    } else if (records > 0) {
      if (durable_end_ >= options_.segment_bytes) error = roll();
      if (!error) write_ahead(group_buffer_.size());
      if (!error) error = write_and_sync(group_buffer_);
      if (!error) {
        // Acknowledge only what is at the configured path: after `rm -rf DATA` or a rename,
        // the descriptor still writes happily into a file nobody will read again.
        if (LogError lost = identity_error()) {
          lost_ = true;
          lost_error_ = lost;
          error = lost;
        }
      }
      if (error) {
        // Nothing half-written stays: the next group starts at the last durable end.
        if (::ftruncate(fd_, static_cast<off_t>(durable_end_)) == 0) ::fdatasync(fd_);
        written_ahead_ = durable_end_;
        write_errors_.fetch_add(1);
      } else {
        durable_end_ += group_buffer_.size();
        written_ahead_ = std::max(written_ahead_, durable_end_);
        segments_.back().bytes = durable_end_;
        size_bytes_.fetch_add(group_buffer_.size());
      }
    } else if (LogError lost = identity_error()) {
      lost_ = true;
      lost_error_ = lost;
      error = lost;
    }
  }
  Sequence first = next_sequence_.load();
  if (!error) {
    next_sequence_ = first + records;
    appended_.fetch_add(records);
  }
  for (Queued& item : group) {
    AppendOutcome outcome;
    if (error) {
      outcome.error = error;
    } else {
      outcome.first = first;
      outcome.count = item.count;
      first += item.count;
    }
    if (item.done) item.done(std::move(outcome));
  }
  group.clear();
}

// Best effort: when the disk cannot take the space ahead, the group is written the plain way.
void LocalEventLog::write_ahead(std::size_t needed) {
  if (durable_end_ + needed <= written_ahead_ || options_.write_ahead_bytes == 0) return;
  if (write_ahead_pause_ > 0) {
    --write_ahead_pause_;
    return;
  }
  const std::uint64_t target =
      std::min(std::max(durable_end_ + needed, written_ahead_ + options_.write_ahead_bytes),
               options_.segment_bytes);
  if (target < durable_end_ + needed) return;  // the segment is nearly full: append plainly
  static const std::string zeroes(std::size_t{1} << 20, '\0');
  bool failed = static_cast<bool>(options_.write_fault && options_.write_fault(0));
  for (std::uint64_t at = written_ahead_; at < target && !failed;) {
    const auto chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(target - at, zeroes.size()));
    failed = static_cast<bool>(
        write_all(fd_, std::string_view(zeroes).substr(0, chunk), at, segment_path_));
    at += chunk;
  }
  if (failed) {
    ::ftruncate(fd_, static_cast<off_t>(written_ahead_));
    write_ahead_pause_ = kWriteAheadPauseGroups;
    return;
  }
  written_ahead_ = target;
}

LogError LocalEventLog::write_and_sync(const std::string& bytes) {
  if (options_.write_fault) {
    if (const std::error_code code = options_.write_fault(bytes.size())) {
      return fault_error(code, "cannot write " + segment_path_);
    }
  }
  if (LogError error = write_all(fd_, bytes, durable_end_, segment_path_)) return error;
  if (options_.fsync != FsyncPolicy::kAlways) {
    unsynced_ = true;
    return {};
  }
  if (options_.sync_fault) {
    if (const std::error_code code = options_.sync_fault()) {
      return fault_error(code, "cannot sync " + segment_path_);
    }
  }
  syncs_.fetch_add(1);
  if (::fdatasync(fd_) != 0) return errno_error("cannot sync " + segment_path_);
  return {};
}

void LocalEventLog::sync_written() {
  std::lock_guard lock(file_mutex_);
  if (!unsynced_ || fd_ < 0) return;
  syncs_.fetch_add(1);
  if (options_.sync_fault && options_.sync_fault()) {
    write_errors_.fetch_add(1);
    return;
  }
  if (::fdatasync(fd_) != 0) {
    write_errors_.fetch_add(1);
    return;
  }
  unsynced_ = false;
}

// A new segment starts at the next sequence: created, given its header, synced, and its
// directory entry synced, before any record goes into it.
LogError LocalEventLog::roll() {
  const Sequence first = next_sequence_.load();
  const std::string path = segment_path(options_.directory, first);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot create the log segment " + path);
  LogError error = write_all(fd, segment_header(first), 0, path);
  if (!error && ::fdatasync(fd) != 0) error = errno_error("cannot sync " + path);
  if (!error) error = fsync_directory(dir_fd_, options_.directory);
  if (error) {
    ::close(fd);
    ::unlink(path.c_str());
    return error;
  }
  if (fd_ >= 0) {
    // A finished segment ends at its last record; it was synced by every group written to it
    // (under kInterval, now).
    if (written_ahead_ > durable_end_) ::ftruncate(fd_, static_cast<off_t>(durable_end_));
    if (unsynced_ || written_ahead_ > durable_end_) ::fdatasync(fd_);
    ::close(fd_);
  }
  unsynced_ = false;
  fd_ = fd;
  segment_path_ = path;
  durable_end_ = kSegmentHeaderBytes;
  written_ahead_ = kSegmentHeaderBytes;
  segments_.push_back({{first, path}, kSegmentHeaderBytes});
  size_bytes_.fetch_add(kSegmentHeaderBytes);
  segment_count_ = segments_.size();
  return {};
}

LogError LocalEventLog::identity_error() const {
  struct stat path_info {};
  struct stat open_info {};
  if (::stat(options_.directory.c_str(), &path_info) != 0 || ::fstat(dir_fd_, &open_info) != 0 ||
      !same_file(path_info, open_info)) {
    return LogError{std::make_error_code(std::errc::no_such_file_or_directory),
                    "the log directory " + options_.directory +
                        " was removed, renamed or replaced while in use"};
  }
  if (::stat(segment_path_.c_str(), &path_info) != 0 || ::fstat(fd_, &open_info) != 0 ||
      !same_file(path_info, open_info)) {
    return LogError{
        std::make_error_code(std::errc::no_such_file_or_directory),
        "the log segment " + segment_path_ + " was removed, renamed or replaced while in use"};
  }
  if (options_.also_check) return options_.also_check();
  return {};
}

LogError LocalEventLog::check_identity() const {
  std::lock_guard lock(file_mutex_);
  if (lost_) return lost_error_;
  return identity_error();
}

void LocalEventLog::apply_retention(Sequence first_needed) {
  std::lock_guard lock(file_mutex_);
  // Whole segments only, and never the one being written.
  while (segments_.size() > 1 && segments_[1].name.first <= first_needed) {
    if (::unlink(segments_.front().name.path.c_str()) != 0 && errno != ENOENT) break;
    size_bytes_.fetch_sub(segments_.front().bytes);
    segments_.pop_front();
  }
  segment_count_ = segments_.size();
  first_sequence_ = segments_.front().name.first;
}

LogStats LocalEventLog::stats() const {
  LogStats stats;
  stats.size_bytes = size_bytes_.load();
  stats.segments = segment_count_.load();
  stats.syncs = syncs_.load();
  stats.write_errors = write_errors_.load();
  stats.torn_tails = torn_tails_;
  stats.torn_bytes = torn_bytes_;
  stats.appended = appended_.load();
  return stats;
}

std::unique_ptr<EventLogReader> LocalEventLog::read_from(Sequence first, const ReadOptions& options,
                                                         LogError& error) const {
  // Never rebuild from a log that is not the one being written.
  if ((error = check_identity())) return nullptr;
  return read_only(options_.directory, first, options, error);
}

std::unique_ptr<EventLogReader> LocalEventLog::read_only(const std::string& directory,
                                                         Sequence first, const ReadOptions& options,
                                                         LogError& error) {
  auto reader = std::make_unique<LocalLogReader>(directory, first, options);
  if ((error = reader->start())) return nullptr;
  return reader;
}

}  // namespace replywatch::storage

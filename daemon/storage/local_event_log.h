// The local EventLog: segment files in one directory (segment_file.h), written by one thread.
//
// Space is written ahead of use (zeroes, a few MiB at a time): overwriting it needs no change of
// the file's size, so the fdatasync of a group flushes data only, not the filesystem's journal
// (several times cheaper on ext4). The zeroes past the last record read as the end.
//
// Group commit: append() frames the batch on the caller's thread and queues it; the writer
// thread takes everything queued, writes it with one pwrite and makes it durable with one
// fdatasync (fsync policy "always"), checks that the files are still the ones at the configured
// path, and only then runs the completions. On any failure the segment is cut back to its last
// durable end and every batch of the group fails, so nothing half-written is acknowledged; the
// next group tries again, so writes resume by themselves once the disk takes them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "event_log.h"
#include "segment_file.h"

namespace replywatch::storage {

enum class FsyncPolicy : std::uint8_t {
  kAlways,    // a batch completes after the fdatasync that covers it
  kInterval,  // a batch completes once written; flush() syncs (the caller's timer)
};

struct LocalLogOptions {
  std::string directory;  // the segments' directory (DATA/log)
  std::uint64_t segment_bytes = std::uint64_t{64} << 20;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  // Zeroes written ahead of use at a time (0: none).
  std::uint64_t write_ahead_bytes = std::uint64_t{4} << 20;
  // At open: skip damaged records of the newest segment instead of refusing to open.
  bool repair = false;
  // Also checked before acknowledging (the data directory's lock file, say).
  std::function<LogError()> also_check;
  // Test seams, called before each write and each fdatasync of appends: an error returned is
  // taken as that call's.
  std::function<std::error_code(std::size_t bytes)> write_fault;
  std::function<std::error_code()> sync_fault;
};

// What open() found and did.
struct OpenReport {
  bool created = false;               // a new, empty log
  std::uint64_t torn_bytes = 0;       // an unfinished tail cut off the newest segment
  std::string torn_at;                // "PATH at byte N: PROBLEM"
  std::uint64_t skipped_records = 0;  // damaged records found in the newest segment (repair)
};

class LocalEventLog final : public EventLog {
 public:
  // Opens (creating if needed) and checks the newest segment: a torn tail is cut; a damaged
  // record followed by valid ones fails the open, naming the file and offset, unless
  // options.repair.
  static std::unique_ptr<LocalEventLog> open(LocalLogOptions options, LogError& error,
                                             OpenReport* report = nullptr);

  // Reads a log another process may be writing: nothing is cut or locked, and an unfinished
  // tail reads as the end.
  static std::unique_ptr<EventLogReader> read_only(const std::string& directory, Sequence first,
                                                   const ReadOptions& options, LogError& error);

  LocalEventLog(const LocalEventLog&) = delete;
  LocalEventLog& operator=(const LocalEventLog&) = delete;
  ~LocalEventLog() override;  // completes what is queued, then stops the writer

  void append(Instant watermark, std::span<const Event* const> events, AppendDone done) override;
  void append_unencoded(Instant watermark, std::vector<const Event*> events,
                        AppendDone done) override;
  std::unique_ptr<EventLogReader> read_from(Sequence first, const ReadOptions& options,
                                            LogError& error) const override;
  void retain_from(Sequence first_needed) override;
  Sequence next_sequence() const override { return next_sequence_.load(); }
  Sequence first_sequence() const override { return first_sequence_.load(); }
  LogStats stats() const override;
  LogError check_identity() const override;

  // Under FsyncPolicy::kInterval: makes everything written so far durable (queued behind the
  // appends before it). Nothing under kAlways.
  void flush() override;

 private:
  struct Queued {
    std::string frames;
    std::vector<const Event*> unencoded;  // encoded by the writer, at `watermark`
    Instant watermark{};
    std::size_t count = 0;
    AppendDone done;
    bool flush = false;
    Sequence retain = 0;  // non-zero: a retention request
  };
  struct Segment {
    SegmentName name;
    std::uint64_t bytes = 0;
  };

  explicit LocalEventLog(LocalLogOptions options);
  LogError open_files(OpenReport& report);
  void run_writer();
  void enqueue(Queued item);
  void write_group(std::vector<Queued>& group);
  LogError write_and_sync(const std::string& bytes);
  LogError roll();
  LogError identity_error() const;  // file_mutex_ held
  void apply_retention(Sequence first_needed);
  void sync_written();
  void write_ahead(std::size_t needed);  // file_mutex_ held

  LocalLogOptions options_;
  int dir_fd_ = -1;
  // The segment being written; swapped by roll() under file_mutex_.
  mutable std::mutex file_mutex_;
  int fd_ = -1;
  std::string segment_path_;
  std::deque<Segment> segments_;     // writer thread (and open) only
  std::uint64_t durable_end_ = 0;    // bytes of the newest segment known good
  std::uint64_t written_ahead_ = 0;  // the newest segment's file size (zeroes past durable_end_)
  int write_ahead_pause_ = 0;        // groups to go without writing ahead (it failed: disk full)
  bool unsynced_ = false;            // kInterval: written since the last sync
  bool lost_ = false;                // the files are no longer at their path: refuse for good
  LogError lost_error_;
  std::string group_buffer_;

  std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::vector<Queued> queue_;
  bool stopping_ = false;
  std::thread writer_;

  std::atomic<Sequence> next_sequence_{1};
  std::atomic<Sequence> first_sequence_{1};
  std::atomic<std::uint64_t> size_bytes_{0};
  std::atomic<std::uint64_t> segment_count_{0};
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> appended_{0};
  std::uint64_t torn_tails_ = 0;
  std::uint64_t torn_bytes_ = 0;
};

}  // namespace replywatch::storage

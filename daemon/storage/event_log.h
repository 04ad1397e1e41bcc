// The durable record of accepted events: the one seam between the daemon and where events are
// kept. The local implementation writes segment files in the data directory (LocalEventLog); a
// distributed one (JetStream) can take its place behind the same interface.
//
// The daemon's one rule: make durable, then offer to the engine. It hands each request's events
// to append() as one batch recorded with the watermark the engine will be advanced to before
// they are offered; the completion says when they are durable. A rebuild reads the records back
// through a reader, a bounded number per call, and advances the engine at every record that
// starts a batch, exactly as the live daemon did.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "replywatch/event.h"
#include "replywatch/time.h"

namespace replywatch::storage {

// Record numbers, from 1, without gaps; retention removes old ones but never renumbers.
using Sequence = std::uint64_t;

// One accepted event as the log keeps it.
struct LogRecord {
  // What the engine was advanced to before the event's request was offered.
  Instant watermark{};
  // Offered right after the previous record, with no advance in between (same request).
  bool continues_batch = false;
  Event event;
};

struct LoggedRecord {
  Sequence sequence = 0;
  LogRecord record;
};

// A failure with what an operator needs to find it (file and byte offset for damage).
struct LogError {
  std::error_code code;
  std::string message;  // complete sentence, e.g. "DATA/log/…seg at byte 4711: checksum mismatch"
  explicit operator bool() const { return static_cast<bool>(code); }
};

struct AppendOutcome {
  // Set: nothing of the batch is acknowledged and the log holds none of it.
  LogError error;
  Sequence first = 0;  // the batch's first record; the batch holds first .. first + count - 1
  std::size_t count = 0;
  // Indexes (into the appended events, ascending) of events the log already held and did not
  // store again: a distributed log recognises retries itself (JetStream's duplicate window).
  // The local log never sets it (the daemon's dedup set decides before the append).
  std::vector<std::size_t> duplicates;
};

// Runs on the log's own thread: post it to the caller's.
using AppendDone = std::function<void(AppendOutcome)>;

struct ReadOptions {
  // A record whose watermark or event time is later than now + max_future_skew is damage: no
  // live daemon could have written it (time passed in; the log reads no clock).
  Instant now{};
  Duration max_future_skew = std::chrono::minutes(5);
  // Skip damaged records (counted) instead of failing at the first one.
  bool repair = false;
};

// Reads records in sequence order, a bounded number per call, so a rebuild can step in chunks
// while the daemon keeps answering.
class EventLogReader {
 public:
  virtual ~EventLogReader() = default;

  // Appends to `out` up to `max_records` records whose sequence is below `end`. Returns true
  // while more may follow below `end`; false at `end` or at the end of what is written, and on
  // an error (damage found, unless ReadOptions::repair; I/O error).
  virtual bool read(std::size_t max_records, Sequence end, std::vector<LoggedRecord>& out,
                    LogError& error) = 0;

  // The sequence of the next record read.
  virtual Sequence next_sequence() const = 0;
  // Damaged records skipped under ReadOptions::repair.
  virtual std::uint64_t skipped_records() const = 0;
};

// Figures for the daemon's metrics.
struct LogStats {
  std::uint64_t size_bytes = 0;
  std::uint64_t segments = 0;      // stored units (files) held
  std::uint64_t syncs = 0;         // fdatasync calls of appends
  std::uint64_t write_errors = 0;  // groups of appends that failed
  std::uint64_t torn_tails = 0;    // unfinished tails cut at open
  std::uint64_t torn_bytes = 0;    // bytes those tails held
  std::uint64_t appended = 0;      // records made durable by this process
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Records `events` as one batch at `watermark` (encoded before the call returns; the events
  // need not outlive it). `done` runs once they are durable, or once the batch failed. Batches
  // complete in the order they were appended; an empty batch completes after every earlier one.
  virtual void append(Instant watermark, std::span<const Event* const> events, AppendDone done) = 0;
  // The same, but the events may be encoded later (on the log's writer thread, off the
  // caller's): they must stay alive and unchanged until `done` runs.
  virtual void append_unencoded(Instant watermark, std::vector<const Event*> events,
                                AppendDone done) {
    append(watermark, events, std::move(done));
  }

  // Reads from `first` (at least the oldest retained record).
  virtual std::unique_ptr<EventLogReader> read_from(Sequence first, const ReadOptions& options,
                                                    LogError& error) const = 0;

  // Records before `first_needed` are no longer needed; whole stored units (segments) entirely
  // before it may go.
  virtual void retain_from(Sequence first_needed) = 0;

  // One past the last durable record: where a reader started now would stop.
  virtual Sequence next_sequence() const = 0;
  // The oldest record still kept.
  virtual Sequence first_sequence() const = 0;

  // Under a policy that acknowledges before syncing (fsync: interval): makes everything
  // acknowledged so far durable, behind the appends before it. Nothing otherwise.
  virtual void flush() {}

  virtual LogStats stats() const = 0;
  std::uint64_t size_bytes() const { return stats().size_bytes; }

  // Whether the log is still the one at its configured place (the data directory was not
  // removed, renamed or replaced): nothing is acknowledged, and no rebuild reads it, otherwise.
  virtual LogError check_identity() const = 0;
};

}  // namespace replywatch::storage

// The durable record of accepted events: an append-only file in the data directory, one line
// per event, "WATERMARK_MS <tab> EVENT_JSON", or "WATERMARK_MS+ <tab> EVENT_JSON" for the
// following events of the same request. The watermark is the one the engine was advanced to
// before the request's events were offered, so reading the file back through a fresh engine,
// advancing once per request, reproduces the live state exactly, late events included.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "replywatch/time.h"

namespace replywatch::server {

struct JournalRecord {
  Instant watermark;
  std::string_view event_json;
  bool continues_batch = false;  // offered right after the previous record, with no advance
};

// Formats one record, newline included.
void append_journal_record(std::string& out, Instant watermark, std::string_view event_json,
                           bool continues_batch = false);

// Parses one line (without its newline); nothing when it is not a record.
std::optional<JournalRecord> parse_journal_record(std::string_view line);

class JournalWriter {
 public:
  JournalWriter() = default;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  std::error_code open(const std::string& path);

  // Writes `records` (whole lines) and syncs them to disk. On any failure the file is cut back
  // to where it was, so a refused batch leaves no trace.
  std::error_code append(std::string_view records);

  std::uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Reads a journal from the start, a bounded number of lines per call, so that the daemon can
// answer requests while it restores.
class JournalReader {
 public:
  JournalReader() = default;
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;
  ~JournalReader();

  // A missing file reads as empty.
  std::error_code open(const std::string& path);

  // Calls `line` for up to `max_lines` complete lines (newline stripped, 1-based number).
  // Returns false once the end is reached; a last line without its newline (a write cut short
  // by a crash, never acknowledged) is not read, and `complete_bytes` says where it starts.
  bool read(std::size_t max_lines,
            const std::function<void(std::string_view line, std::uint64_t number)>& line,
            std::error_code& error);

  std::uint64_t complete_bytes() const { return complete_bytes_; }
  std::uint64_t lines_read() const { return lines_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  std::size_t consumed_ = 0;
  bool end_ = false;
  std::uint64_t complete_bytes_ = 0;
  std::uint64_t lines_ = 0;
};

// Cuts a torn last line off; call before opening the writer.
std::error_code truncate_journal(const std::string& path, std::uint64_t size);

}  // namespace replywatch::server

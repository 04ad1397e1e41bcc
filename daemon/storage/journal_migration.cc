#include "journal_migration.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <vector>

#include "local_event_log.h"
#include "replywatch/event_codec.h"

namespace replywatch::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBatchFlush = 4096;

struct JournalLine {
  Instant watermark;
  bool continues_batch = false;
  std::string_view event_json;
};

std::optional<JournalLine> parse_line(std::string_view line) {
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos || tab == 0) return std::nullopt;
  const bool continues = line[tab - 1] == '+';
  const char* digits_end = line.data() + tab - (continues ? 1 : 0);
  std::int64_t millis = 0;
  auto [ptr, ec] = std::from_chars(line.data(), digits_end, millis);
  if (ec != std::errc{} || ptr != digits_end || millis < 0 || millis > kMaxEpochMillis) {
    return std::nullopt;
  }
  return JournalLine{Instant(Duration(millis)), continues, line.substr(tab + 1)};
}

void sync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

LogError fs_error(std::error_code code, const std::string& what) {
  return LogError{code, what + ": " + code.message()};
}

// Writes every record of the journal into a new log at `target`.
LogError convert(const std::string& journal, const std::string& target, MigrationReport& report) {
  LocalLogOptions options;
  options.directory = target;
  options.fsync = FsyncPolicy::kInterval;  // one sync at the end
  LogError error;
  auto log = LocalEventLog::open(options, error);
  if (error) return error;
  std::mutex failure_mutex;
  LogError failure;
  auto done = [&](AppendOutcome outcome) {
    if (!outcome.error) return;
    std::lock_guard lock(failure_mutex);
    if (!failure) failure = outcome.error;
  };
  std::ifstream in(journal, std::ios::binary);
  if (!in) return LogError{std::make_error_code(std::errc::io_error), "cannot read " + journal};
  std::vector<Event> batch;
  std::vector<const Event*> pointers;
  Instant batch_watermark{};
  auto flush_batch = [&] {
    if (batch.empty()) return;
    pointers.clear();
    for (const Event& event : batch) pointers.push_back(&event);
    log->append(batch_watermark, pointers, done);
    report.records += batch.size();
    batch.clear();
  };
  std::string line;
  const auto any_platform = [](std::string_view) { return true; };
  while (std::getline(in, line)) {
    if (in.eof()) {
      report.torn_bytes = line.size();  // no newline: cut short by a crash, never acknowledged
      break;
    }
    const auto parsed = parse_line(line);
    if (!parsed) {
      ++report.skipped_lines;
      continue;
    }
    auto decoded = decode_event_text(parsed->event_json, any_platform);
    if (!std::holds_alternative<Event>(decoded)) {
      ++report.skipped_lines;
      continue;
    }
    if (!parsed->continues_batch || batch.size() >= kBatchFlush) flush_batch();
    if (batch.empty()) batch_watermark = parsed->watermark;
    batch.push_back(std::move(std::get<Event>(decoded)));
  }
  if (in.bad())
    return LogError{std::make_error_code(std::errc::io_error), "cannot read " + journal};
  flush_batch();
  log->flush();
  log.reset();  // completes everything queued
  return failure;
}

}  // namespace

LogError migrate_journal(const std::string& data_directory, const std::string& log_directory,
                         MigrationReport& report) {
  const fs::path data(data_directory);
  const fs::path journal = data / "events.journal";
  const fs::path kept = data / "events.journal.migrated";
  const fs::path staging = fs::path(log_directory).string() + ".migrating";
  std::error_code code;
  const bool have_journal = fs::exists(journal, code);
  const bool have_log = fs::exists(log_directory, code);
  const bool have_staging = fs::exists(staging, code);
  if (!have_journal && have_staging && !have_log && fs::exists(kept, code)) {
    // Interrupted after the journal was set aside: the converted log is whole.
    fs::rename(staging, log_directory, code);
    if (code) return fs_error(code, "cannot rename " + staging.string());
    sync_directory(data_directory);
    report.migrated = true;
    report.kept_as = kept.string();
    return {};
  }
  if (!have_journal) return {};
  if (have_log) {
    return LogError{std::make_error_code(std::errc::file_exists),
                    "both " + journal.string() + " and " + log_directory +
                        " exist (was an older version run on this directory after an upgrade?); "
                        "move one of them away"};
  }
  if (have_staging) fs::remove_all(staging, code);  // an earlier attempt, cut short: redo it
  if (LogError error = convert(journal.string(), staging.string(), report)) {
    fs::remove_all(staging, code);
    return error;
  }
  sync_directory(staging.string());
  fs::rename(journal, kept, code);
  if (code) return fs_error(code, "cannot rename " + journal.string());
  sync_directory(data_directory);
  fs::rename(staging, log_directory, code);
  if (code) return fs_error(code, "cannot rename " + staging.string());
  sync_directory(data_directory);
  report.migrated = true;
  report.kept_as = kept.string();
  return {};
}

}  // namespace replywatch::storage

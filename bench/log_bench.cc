// The event log's storage choice in numbers: segment files (LocalEventLog) against SQLite in
// WAL mode, appending the same records durably, one per commit and grouped, reading them back,
// and the bytes each keeps per event; with the disk's own fdatasync time measured in the same
// run as the baseline.
//
//   log_bench [--dir DIR] [--sync-records N] [--records N] [--appenders K]
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "local_event_log.h"
#include "record_format.h"
#include "replywatch/event_codec.h"

namespace {

using namespace replywatch;
using namespace replywatch::storage;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Event event_number(std::size_t n) {
  Event event;
  event.id = "msg-" + std::to_string(1'000'000'000 + n);
  event.platform = "tmall";
  event.shop = "shop-" + std::to_string(n % 500);
  event.conversation = "conv-" + std::to_string(10'000'000 + n % 50'000);
  event.type = n % 2 == 0 ? EventType::kBuyerMessage : EventType::kAgentMessage;
  if (event.type == EventType::kAgentMessage) event.agent = "agent-" + std::to_string(n % 40);
  event.ts = Instant(Duration(1'764'000'000'000 + static_cast<std::int64_t>(n) * 37));
  return event;
}

std::uint64_t directory_bytes(const std::string& path) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

double fdatasync_micros(const std::string& dir, int samples) {
  const std::string path = dir + "/sync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<double> times;
  const std::string bytes(120, 'x');
  for (int i = 0; i < samples; ++i) {
    if (::write(fd, bytes.data(), bytes.size()) < 0) break;
    const auto start = Clock::now();
    ::fdatasync(fd);
    times.push_back(seconds_since(start) * 1e6);
  }
  ::close(fd);
  fs::remove(path);
  std::sort(times.begin(), times.end());
  return times.empty() ? 0 : times[times.size() / 2];
}

// Appends `count` records from `appenders` threads, each waiting for its own completion.
double segment_append_rate(const std::string& dir, std::size_t count, int appenders,
                           std::uint64_t& syncs) {
  LocalLogOptions options;
  options.directory = dir;
  LogError error;
  auto log = LocalEventLog::open(options, error);
  if (!log) {
    std::fprintf(stderr, "%s\n", error.message.c_str());
    std::exit(1);
  }
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int a = 0; a < appenders; ++a) {
    threads.emplace_back([&, a] {
      for (std::size_t n = static_cast<std::size_t>(a); n < count;
           n += static_cast<std::size_t>(appenders)) {
        const Event event = event_number(n);
        const Event* pointer = &event;
        std::promise<void> done;
        log->append(event.ts, std::span(&pointer, 1), [&done](AppendOutcome) { done.set_value(); });
        done.get_future().get();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = seconds_since(start);
  syncs = log->stats().syncs;
  return static_cast<double>(count) / elapsed;
}

double segment_read_rate(const std::string& dir, std::size_t& records) {
  ReadOptions options;
  options.now = Instant(Duration(1'900'000'000'000));
  LogError error;
  const auto start = Clock::now();
  auto reader = LocalEventLog::read_only(dir, 1, options, error);
  std::vector<LoggedRecord> chunk;
  records = 0;
  for (bool more = true; more;) {
    chunk.clear();
    more = reader->read(4096, UINT64_MAX, chunk, error);
    records += chunk.size();
  }
  return static_cast<double>(records) / seconds_since(start);
}

void check(int code, sqlite3* db, const char* what) {
  if (code != SQLITE_OK && code != SQLITE_DONE && code != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// SQLite in WAL mode with synchronous=FULL (a commit syncs the WAL): `per_commit` records per
// transaction, the same binary payloads as the segment log.
double sqlite_append_rate(const std::string& path, std::size_t count, std::size_t per_commit) {
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE events(seq INTEGER PRIMARY KEY, record BLOB NOT NULL);",
                     nullptr, nullptr, nullptr),
        db, "setup");
  sqlite3_stmt* insert = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO events(record) VALUES (?)", -1, &insert, nullptr), db,
        "prepare");
  std::string payload;
  const auto start = Clock::now();
  for (std::size_t n = 0; n < count;) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (std::size_t k = 0; k < per_commit && n < count; ++k, ++n) {
      const Event event = event_number(n);
      payload.clear();
      encode_record(payload, event.ts, false, event);
      sqlite3_bind_blob(insert, 1, payload.data(), static_cast<int>(payload.size()),
                        SQLITE_TRANSIENT);
      check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double rate = static_cast<double>(count) / seconds_since(start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return rate;
}

double sqlite_read_rate(const std::string& path, std::size_t& records) {
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  sqlite3_stmt* select = nullptr;
  check(sqlite3_prepare_v2(db, "SELECT seq, record FROM events ORDER BY seq", -1, &select, nullptr),
        db, "prepare");
  const auto start = Clock::now();
  records = 0;
  LogRecord record;
  while (sqlite3_step(select) == SQLITE_ROW) {
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(select, 1));
    const int size = sqlite3_column_bytes(select, 1);
    if (decode_record(std::string_view(bytes, static_cast<std::size_t>(size)), record)) ++records;
  }
  const double rate = static_cast<double>(records) / seconds_since(start);
  sqlite3_finalize(select);
  sqlite3_close(db);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/replywatch-log-bench";
  std::size_t sync_records = 300;
  std::size_t records = 100'000;
  int appenders = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--sync-records") sync_records = std::stoul(argv[i + 1]);
    if (flag == "--records") records = std::stoul(argv[i + 1]);
    if (flag == "--appenders") appenders = std::stoi(argv[i + 1]);
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  double ndjson_bytes = 0;
  for (std::size_t n = 0; n < 1000; ++n) ndjson_bytes += encode_event(event_number(n)).size() + 1;
  ndjson_bytes /= 1000;

  const double sync_us = fdatasync_micros(dir, 50);
  std::printf("fdatasync of a small append (median of 50) | %.0f us\n", sync_us);
  std::printf("disk limit at %d waiting requests, %d / fdatasync | %.0f events/s\n", appenders,
              appenders, appenders / (sync_us / 1e6));

  std::uint64_t syncs = 0;
  const double segment_single = segment_append_rate(dir + "/seg1", sync_records, 1, syncs);
  std::printf("segment log, 1 appender, 1 record per commit | %.0f records/s\n", segment_single);
  const double segment_group = segment_append_rate(dir + "/segN", records, appenders, syncs);
  std::printf("segment log, %d appenders, group commit | %.0f records/s (%.1f records per sync)\n",
              appenders, segment_group, static_cast<double>(records) / static_cast<double>(syncs));
  const double sqlite_single = sqlite_append_rate(dir + "/one.db", sync_records, 1);
  std::printf("sqlite WAL synchronous=FULL, 1 record per commit | %.0f records/s\n", sqlite_single);
  const double sqlite_group =
      sqlite_append_rate(dir + "/group.db", records, static_cast<std::size_t>(appenders));
  std::printf("sqlite WAL synchronous=FULL, %d records per commit | %.0f records/s\n", appenders,
              sqlite_group);

  std::size_t read = 0;
  const double segment_read = segment_read_rate(dir + "/segN", read);
  std::printf("segment log, read back and decode %zu records | %.0f records/s\n", read,
              segment_read);
  const double sqlite_read = sqlite_read_rate(dir + "/group.db", read);
  std::printf("sqlite, read back and decode %zu records | %.0f records/s\n", read, sqlite_read);

  // Checkpointed: the WAL folded into the database, as it would be at rest.
  const double segment_bytes =
      static_cast<double>(directory_bytes(dir + "/segN")) / static_cast<double>(records);
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/group.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  const double sqlite_bytes =
      static_cast<double>(fs::file_size(dir + "/group.db")) / static_cast<double>(records);
  std::printf("raw NDJSON per event | %.1f bytes\n", ndjson_bytes);
  std::printf("segment log on disk per event | %.1f bytes (%.2fx NDJSON)\n", segment_bytes,
              segment_bytes / ndjson_bytes);
  std::printf("sqlite on disk per event | %.1f bytes (%.2fx NDJSON)\n", sqlite_bytes,
              sqlite_bytes / ndjson_bytes);
  fs::remove_all(dir);
  return 0;
}

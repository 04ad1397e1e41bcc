#include "local_event_log.h"

#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "record_format.h"
#include "temp_dir.h"

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;
using rwtest::TempDir;
using namespace replywatch::storage;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kBase = 1'764'000'000'000;

Instant at(std::int64_t ms) { return Instant(Duration(ms)); }

Event event_number(int n) {
  Event event;
  event.id = "m-" + std::to_string(n);
  event.platform = "tmall";
  event.shop = "s" + std::to_string(n % 3);
  event.conversation = "c-" + std::to_string(n % 7);
  event.type = n % 2 == 0 ? EventType::kBuyerMessage : EventType::kAgentMessage;
  event.ts = at(kBase + n * 1000);
  return event;
}

AppendOutcome append_sync(EventLog& log, Instant watermark, const std::vector<Event>& events) {
  std::promise<AppendOutcome> promise;
  auto future = promise.get_future();
  std::vector<const Event*> pointers;
  for (const Event& event : events) pointers.push_back(&event);
  log.append(watermark, pointers,
             [&promise](AppendOutcome outcome) { promise.set_value(std::move(outcome)); });
  return future.get();
}

ReadOptions options_now() {
  ReadOptions options;
  options.now = at(kBase + 10'000'000);
  return options;
}

std::vector<LoggedRecord> read_all(const std::string& directory, Sequence from = 1,
                                   ReadOptions options = options_now(),
                                   LogError* error_out = nullptr,
                                   std::uint64_t* skipped = nullptr) {
  LogError error;
  auto reader = LocalEventLog::read_only(directory, from, options, error);
  REQUIRE_FALSE(error);
  std::vector<LoggedRecord> records;
  while (reader->read(3, UINT64_MAX, records, error)) {
  }
  if (error_out != nullptr) {
    *error_out = error;
  } else {
    REQUIRE_FALSE(error);
  }
  if (skipped != nullptr) *skipped = reader->skipped_records();
  return records;
}

std::unique_ptr<LocalEventLog> open_log(LocalLogOptions options, OpenReport* report = nullptr) {
  LogError error;
  auto log = LocalEventLog::open(std::move(options), error, report);
  INFO(error.message);
  REQUIRE(log);
  return log;
}

LocalLogOptions options_for(const TempDir& dir) {
  LocalLogOptions options;
  options.directory = dir.file("log");
  return options;
}

// Writes `count` single-event batches and returns the newest segment's path.
std::string write_records(const TempDir& dir, int count) {
  auto log = open_log(options_for(dir));
  for (int i = 0; i < count; ++i) {
    REQUIRE_FALSE(append_sync(*log, at(kBase + i * 1000), {event_number(i)}).error);
  }
  return segment_path(dir.file("log"), 1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace

TEST_CASE("local_event_log: batches come back in order with their sequences", "[event_log]") {
  TempDir dir("log_order");
  {
    auto log = open_log(options_for(dir));
    CHECK(log->next_sequence() == 1);
    const AppendOutcome first = append_sync(*log, at(kBase), {event_number(1), event_number(2)});
    REQUIRE_FALSE(first.error);
    CHECK(first.first == 1);
    CHECK(first.count == 2);
    const AppendOutcome empty = append_sync(*log, at(kBase + 5), {});
    REQUIRE_FALSE(empty.error);
    CHECK(empty.count == 0);
    const AppendOutcome second = append_sync(*log, at(kBase + 9), {event_number(3)});
    CHECK(second.first == 3);
    CHECK(log->next_sequence() == 4);
  }
  const auto records = read_all(dir.file("log"));
  REQUIRE(records.size() == 3);
  CHECK(records[0].sequence == 1);
  CHECK_FALSE(records[0].record.continues_batch);
  CHECK(records[1].record.continues_batch);
  CHECK(records[1].record.event.id == "m-2");
  CHECK(records[2].record.watermark == at(kBase + 9));
  CHECK_FALSE(records[2].record.continues_batch);
  CHECK(read_all(dir.file("log"), 3).size() == 1);

  // Reopened: numbering continues.
  auto log = open_log(options_for(dir));
  CHECK(log->next_sequence() == 4);
  CHECK(append_sync(*log, at(kBase + 20), {event_number(4)}).first == 4);
}

TEST_CASE("local_event_log: a reader stops at the end it is given and continues later",
          "[event_log]") {
  TempDir dir("log_bounded");
  auto log = open_log(options_for(dir));
  for (int i = 0; i < 10; ++i) append_sync(*log, at(kBase + i), {event_number(i)});
  LogError error;
  auto reader = log->read_from(1, options_now(), error);
  REQUIRE(reader);
  std::vector<LoggedRecord> got;
  CHECK(reader->read(4, 6, got, error));
  CHECK(got.size() == 4);
  CHECK_FALSE(reader->read(4, 6, got, error));
  CHECK(got.size() == 5);
  CHECK(reader->next_sequence() == 6);
  append_sync(*log, at(kBase + 50), {event_number(50)});
  CHECK_FALSE(reader->read(100, log->next_sequence(), got, error));
  CHECK(got.size() == 11);
  CHECK(got.back().record.event.id == "m-50");
  CHECK_FALSE(error);
}

TEST_CASE("local_event_log: segments roll, retention drops whole old ones", "[event_log]") {
  TempDir dir("log_segments");
  LocalLogOptions options = options_for(dir);
  options.segment_bytes = 512;
  auto log = open_log(options);
  for (int i = 0; i < 60; ++i) append_sync(*log, at(kBase + i), {event_number(i)});
  LogError error;
  const auto segments = list_segments(options.directory, error);
  REQUIRE(segments.size() > 3);
  const std::uint64_t before = log->size_bytes();
  std::uint64_t on_disk = 0;
  for (const auto& segment : segments) on_disk += fs::file_size(segment.path);
  CHECK(before == on_disk);
  CHECK(read_all(options.directory).size() == 60);

  const Sequence keep_from = segments[2].first + 1;
  log->retain_from(keep_from);
  append_sync(*log, at(kBase + 100), {});  // a barrier: retention ran before it
  CHECK(log->first_sequence() == segments[2].first);
  CHECK(list_segments(options.directory, error).size() == segments.size() - 2);
  CHECK(log->size_bytes() < before);
  const auto rest = read_all(options.directory, 1);
  REQUIRE_FALSE(rest.empty());
  CHECK(rest.front().sequence == segments[2].first);
  CHECK(rest.back().sequence == 60);
  const auto from_middle = read_all(options.directory, keep_from + 5);
  REQUIRE_FALSE(from_middle.empty());
  CHECK(from_middle.front().sequence == keep_from + 5);
  CHECK(from_middle.front().record.event.id == "m-" + std::to_string(keep_from + 4));

  // Reopened after retention: numbering continues from the newest segment.
  log.reset();
  log = open_log(options);
  CHECK(log->next_sequence() == 61);
  CHECK(log->first_sequence() == segments[2].first);
}

TEST_CASE("local_event_log: appends waiting for a sync share the next one", "[event_log]") {
  TempDir dir("log_group");
  LocalLogOptions options = options_for(dir);
  std::mutex mutex;
  std::condition_variable changed;
  bool first_sync_entered = false;
  bool release = false;
  int syncs = 0;
  options.sync_fault = [&]() -> std::error_code {
    std::unique_lock lock(mutex);
    ++syncs;
    if (syncs == 1) {
      first_sync_entered = true;
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
    }
    return {};
  };
  auto log = open_log(options);
  std::vector<Event> events;
  for (int i = 0; i < 101; ++i) events.push_back(event_number(i));
  std::vector<std::promise<AppendOutcome>> done(events.size());
  auto append_one = [&](std::size_t i) {
    const Event* pointer = &events[i];
    log->append(at(kBase + static_cast<std::int64_t>(i)), std::span(&pointer, 1),
                [&done, i](AppendOutcome outcome) { done[i].set_value(std::move(outcome)); });
  };
  append_one(0);
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return first_sync_entered; });
  }
  for (std::size_t i = 1; i < events.size(); ++i) append_one(i);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const AppendOutcome outcome = done[i].get_future().get();
    REQUIRE_FALSE(outcome.error);
    CHECK(outcome.first == i + 1);
  }
  CHECK(syncs == 2);  // the first append's, then one for the hundred queued behind it
  CHECK(log->stats().syncs == 2);
  CHECK(read_all(options.directory).size() == 101);
}

TEST_CASE("local_event_log: a torn tail is cut at open, at every byte of the last records",
          "[event_log]") {
  TempDir source("log_torn_source");
  const std::string segment = write_records(source, 6);
  const std::string whole = read_file(segment);
  // Where each record ends: read frame by frame.
  std::vector<std::size_t> ends;
  for (std::size_t at_byte = kSegmentHeaderBytes; at_byte < whole.size();) {
    std::string_view payload;
    std::size_t frame_bytes = 0;
    REQUIRE(check_frame(std::string_view(whole).substr(at_byte), payload, frame_bytes) ==
            FrameCheck::kComplete);
    at_byte += frame_bytes;
    ends.push_back(at_byte);
  }
  REQUIRE(ends.size() == 6);
  for (std::size_t cut = ends[2]; cut < whole.size(); ++cut) {
    TempDir dir("log_torn");
    fs::create_directories(dir.file("log"));
    const std::string path = segment_path(dir.file("log"), 1);
    write_file(path, whole.substr(0, cut));
    std::size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    OpenReport report;
    auto log = open_log(options_for(dir), &report);
    INFO("cut at " << cut);
    CHECK(report.torn_bytes == cut - ends[complete - 1]);
    CHECK(log->next_sequence() == complete + 1);
    CHECK(log->stats().torn_tails == (cut == ends[complete - 1] ? 0u : 1u));
    REQUIRE_FALSE(append_sync(*log, at(kBase + 99'000), {event_number(99)}).error);
    log.reset();
    const auto records = read_all(dir.file("log"));
    REQUIRE(records.size() == complete + 1);
    CHECK(records.back().record.event.id == "m-99");
    CHECK(records.back().sequence == complete + 1);
  }
}

TEST_CASE("local_event_log: a zero-filled tail and a segment cut inside its header are torn",
          "[event_log]") {
  TempDir dir("log_zero_tail");
  const std::string segment = write_records(dir, 3);
  const std::string whole = read_file(segment);
  write_file(segment, whole + std::string(4096, '\0'));
  OpenReport report;
  {
    auto log = open_log(options_for(dir), &report);
    CHECK(report.torn_bytes == 4096);
    CHECK(log->next_sequence() == 4);
  }
  CHECK(fs::file_size(segment) == whole.size());

  // A crash while a new segment was being made.
  const std::string next = segment_path(dir.file("log"), 4);
  write_file(next, segment_header(4).substr(0, 5));
  auto log = open_log(options_for(dir), &report);
  CHECK(log->next_sequence() == 4);
  REQUIRE_FALSE(append_sync(*log, at(kBase + 50'000), {event_number(50)}).error);
  log.reset();
  CHECK(read_all(dir.file("log")).size() == 4);
}

TEST_CASE("local_event_log: damage in the middle names the file and offset", "[event_log]") {
  TempDir dir("log_damage");
  const std::string segment = write_records(dir, 5);
  std::string bytes = read_file(segment);
  std::string_view payload;
  std::size_t first_frame = 0;
  REQUIRE(check_frame(std::string_view(bytes).substr(kSegmentHeaderBytes), payload, first_frame) ==
          FrameCheck::kComplete);
  const std::size_t damaged_at = kSegmentHeaderBytes + first_frame;  // the second record
  bytes[damaged_at + kFrameHeaderBytes + 3] ^= 0x5a;
  write_file(segment, bytes);

  LogError error;
  auto refused = LocalEventLog::open(options_for(dir), error);
  CHECK_FALSE(refused);
  CHECK_THAT(error.message, Catch::Contains(segment) &&
                                Catch::Contains("at byte " + std::to_string(damaged_at)) &&
                                Catch::Contains("--journal-repair"));
  CHECK(fs::file_size(segment) == bytes.size());  // nothing cut

  LogError read_error;
  const auto partial = read_all(dir.file("log"), 1, options_now(), &read_error);
  CHECK(partial.size() == 1);
  CHECK_THAT(read_error.message, Catch::Contains("at byte " + std::to_string(damaged_at)));

  LocalLogOptions repair = options_for(dir);
  repair.repair = true;
  OpenReport report;
  auto log = open_log(repair, &report);
  CHECK(report.skipped_records == 1);
  CHECK(log->next_sequence() == 5);
  ReadOptions skip = options_now();
  skip.repair = true;
  std::uint64_t skipped = 0;
  const auto records = read_all(dir.file("log"), 1, skip, nullptr, &skipped);
  CHECK(records.size() == 4);
  CHECK(skipped == 1);
}

TEST_CASE("local_event_log: damage in a finished segment stops the reader", "[event_log]") {
  TempDir dir("log_damage_closed");
  LocalLogOptions options = options_for(dir);
  options.segment_bytes = 400;
  {
    auto log = open_log(options);
    for (int i = 0; i < 30; ++i) append_sync(*log, at(kBase + i), {event_number(i)});
  }
  LogError error;
  const auto segments = list_segments(options.directory, error);
  REQUIRE(segments.size() >= 3);
  // Cut the first segment's last record short: not a torn tail, since newer segments follow.
  const std::string first = read_file(segments[0].path);
  write_file(segments[0].path, first.substr(0, first.size() - 3));
  LogError read_error;
  read_all(options.directory, 1, options_now(), &read_error);
  CHECK_THAT(read_error.message, Catch::Contains(segments[0].path));
  ReadOptions skip = options_now();
  skip.repair = true;
  std::uint64_t skipped = 0;
  const auto records = read_all(options.directory, 1, skip, nullptr, &skipped);
  CHECK(records.size() == 29);
  CHECK(skipped == 1);
  CHECK(records.back().sequence == 30);
}

TEST_CASE("local_event_log: a record from the far future is damage", "[event_log]") {
  TempDir dir("log_future");
  {
    auto log = open_log(options_for(dir));
    append_sync(*log, at(kBase), {event_number(1)});
    Event late = event_number(2);
    append_sync(*log, at(253'402'300'799'000), {late});  // year 9999
    append_sync(*log, at(kBase + 5), {event_number(3)});
  }
  LogError error;
  CHECK(read_all(dir.file("log"), 1, options_now(), &error).size() == 1);
  CHECK_THAT(error.message, Catch::Contains("9999-12-31") && Catch::Contains("max_future_skew"));
  ReadOptions skip = options_now();
  skip.repair = true;
  std::uint64_t skipped = 0;
  CHECK(read_all(dir.file("log"), 1, skip, nullptr, &skipped).size() == 2);
  CHECK(skipped == 1);
}

TEST_CASE("local_event_log: a failed write or sync leaves nothing and the next one works",
          "[event_log]") {
  TempDir dir("log_write_error");
  LocalLogOptions options = options_for(dir);
  bool fail_write = false;
  bool fail_sync = false;
  options.write_fault = [&](std::size_t) -> std::error_code {
    return fail_write ? std::make_error_code(std::errc::no_space_on_device) : std::error_code{};
  };
  options.sync_fault = [&]() -> std::error_code {
    return fail_sync ? std::make_error_code(std::errc::io_error) : std::error_code{};
  };
  auto log = open_log(options);
  REQUIRE_FALSE(append_sync(*log, at(kBase), {event_number(1)}).error);
  const auto size = fs::file_size(segment_path(options.directory, 1));
  fail_write = true;
  const AppendOutcome refused = append_sync(*log, at(kBase + 1), {event_number(2)});
  CHECK(refused.error.code == std::errc::no_space_on_device);
  fail_write = false;
  fail_sync = true;
  CHECK(append_sync(*log, at(kBase + 2), {event_number(3)}).error.code == std::errc::io_error);
  CHECK(fs::file_size(segment_path(options.directory, 1)) == size);  // cut back
  fail_sync = false;
  const AppendOutcome resumed = append_sync(*log, at(kBase + 3), {event_number(4)});
  REQUIRE_FALSE(resumed.error);
  CHECK(resumed.first == 2);
  CHECK(log->stats().write_errors == 2);
  log.reset();
  const auto records = read_all(options.directory);
  REQUIRE(records.size() == 2);
  CHECK(records[1].record.event.id == "m-4");
}

TEST_CASE("local_event_log: a full filesystem refuses, then recovers when space returns",
          "[event_log]") {
  // A real small filesystem when this process may mount one (root in a container that allows
  // it); the write seam above covers the same path otherwise.
  TempDir dir("log_tmpfs");
  const std::string mount_point = dir.file("mnt");
  fs::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=256k") != 0) {
    WARN("cannot mount a tmpfs here (" << std::strerror(errno) << "); covered by the write seam");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  LocalLogOptions options;
  options.directory = mount_point + "/log";
  auto log = open_log(options);
  const std::string filler = mount_point + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(4096, 'x');
    while (out.write(block.data(), block.size())) {
    }
  }
  int refused = 0;
  int accepted = 0;
  for (int i = 0; i < 200; ++i) {
    const AppendOutcome outcome = append_sync(*log, at(kBase + i), {event_number(i)});
    outcome.error ? ++refused : ++accepted;
  }
  CHECK(refused > 0);
  fs::remove(filler);
  const AppendOutcome resumed = append_sync(*log, at(kBase + 500), {event_number(500)});
  REQUIRE_FALSE(resumed.error);
  CHECK(resumed.first == static_cast<Sequence>(accepted) + 1);
  log.reset();
  const auto records = read_all(options.directory);
  CHECK(records.size() == static_cast<std::size_t>(accepted) + 1);
}

TEST_CASE("local_event_log: a log moved or replaced under it acknowledges nothing more",
          "[event_log]") {
  TempDir dir("log_identity");
  LocalLogOptions options = options_for(dir);
  auto log = open_log(options);
  REQUIRE_FALSE(append_sync(*log, at(kBase), {event_number(1)}).error);
  CHECK_FALSE(log->check_identity());
  SECTION("the directory renamed") { fs::rename(options.directory, dir.file("log.old")); }
  SECTION("the directory removed") { fs::remove_all(options.directory); }
  SECTION("the segment replaced") {
    const std::string path = segment_path(options.directory, 1);
    write_file(path + ".new", read_file(path));
    fs::rename(path + ".new", path);
  }
  const AppendOutcome refused = append_sync(*log, at(kBase + 1), {event_number(2)});
  CHECK(refused.error);
  CHECK_THAT(refused.error.message, Catch::Contains("removed, renamed or replaced"));
  CHECK(log->check_identity());
  LogError error;
  CHECK_FALSE(log->read_from(1, options_now(), error));
  CHECK(error);
  // For good: even a barrier fails.
  CHECK(append_sync(*log, at(kBase + 2), {}).error);
}

TEST_CASE("local_event_log: fsync interval acknowledges once written and syncs on flush",
          "[event_log]") {
  TempDir dir("log_interval");
  LocalLogOptions options = options_for(dir);
  options.fsync = FsyncPolicy::kInterval;
  auto log = open_log(options);
  for (int i = 0; i < 5; ++i)
    REQUIRE_FALSE(append_sync(*log, at(kBase + i), {event_number(i)}).error);
  CHECK(log->stats().syncs == 0);
  log->flush();
  append_sync(*log, at(kBase + 9), {});  // a barrier behind the flush
  CHECK(log->stats().syncs == 1);
  log->flush();
  append_sync(*log, at(kBase + 9), {});
  CHECK(log->stats().syncs == 1);  // nothing written since
  CHECK(read_all(options.directory).size() == 5);
}

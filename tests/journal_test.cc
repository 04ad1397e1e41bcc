// The event journal: one "WATERMARK_MS <tab> EVENT_JSON" line per accepted event, read back in
// bounded steps, a torn last line left out and cut off.
#include "journal.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "replywatch/time.h"
#include "temp_dir.h"

using replywatch::Duration;
using replywatch::Instant;
using replywatch::server::append_journal_record;
using replywatch::server::JournalReader;
using replywatch::server::JournalWriter;
using replywatch::server::parse_journal_record;
using replywatch::server::truncate_journal;

namespace fs = std::filesystem;

namespace {

using rwtest::TempDir;

struct Line {
  std::string text;
  std::uint64_t number;
};

// Reads the whole journal `max_lines` at a time; checks that each call stays within its bound.
std::vector<Line> read_all(JournalReader& reader, std::size_t max_lines, std::size_t* calls) {
  std::vector<Line> lines;
  std::error_code error;
  bool more = true;
  *calls = 0;
  while (more) {
    std::size_t this_call = 0;
    more = reader.read(
        max_lines,
        [&](std::string_view line, std::uint64_t number) {
          ++this_call;
          lines.push_back({std::string(line), number});
        },
        error);
    ++*calls;
    REQUIRE_FALSE(error);
    REQUIRE(this_call <= max_lines);
    REQUIRE(*calls < 100000);
  }
  return lines;
}

std::string event_json(int i) {
  return R"({"id":"m)" + std::to_string(i) +
         R"(","platform":"tmall","shop":"s1","type":"buyer_message","conversation":"c)" +
         std::to_string(i % 7) + R"(","ts":)" + std::to_string(1795359600000 + i) + "}";
}

Instant watermark_of(int i) { return Instant(Duration(1795359598000 + 10 * i)); }

}  // namespace

TEST_CASE("journal: a record is watermark milliseconds, a tab, the event and a newline",
          "[journal]") {
  std::string out;
  append_journal_record(out, Instant(Duration(1795359598000)), R"({"id":"m1"})");
  CHECK(out == "1795359598000\t{\"id\":\"m1\"}\n");
  append_journal_record(out, Instant(Duration(0)), "{}");
  CHECK(out == "1795359598000\t{\"id\":\"m1\"}\n0\t{}\n");

  const auto record = parse_journal_record("1795359598000\t{\"id\":\"m1\"}");
  REQUIRE(record.has_value());
  CHECK(record->watermark == Instant(Duration(1795359598000)));
  CHECK(record->event_json == R"({"id":"m1"})");
}

TEST_CASE("journal: the following records of one request are marked with a +", "[journal]") {
  std::string out;
  append_journal_record(out, Instant(Duration(1795359598000)), "{\"id\":\"m1\"}");
  append_journal_record(out, Instant(Duration(1795359598000)), "{\"id\":\"m2\"}", true);
  CHECK(out == "1795359598000\t{\"id\":\"m1\"}\n1795359598000+\t{\"id\":\"m2\"}\n");

  const auto first = parse_journal_record("1795359598000\t{}");
  REQUIRE(first.has_value());
  CHECK_FALSE(first->continues_batch);
  const auto next = parse_journal_record("1795359598000+\t{\"id\":\"m2\"}");
  REQUIRE(next.has_value());
  CHECK(next->continues_batch);
  CHECK(next->watermark == Instant(Duration(1795359598000)));
  CHECK(next->event_json == R"({"id":"m2"})");
}

TEST_CASE("journal: any watermark survives a format and parse round trip", "[journal]") {
  for (const Instant watermark :
       {Instant(Duration(0)), Instant(Duration(1)), Instant(Duration(-1)),
        Instant(Duration(1795359598123)), replywatch::kInstantMin, replywatch::kInstantMax}) {
    std::string out;
    append_journal_record(out, watermark, "{\"tab\":\"a\\tb\"}");
    REQUIRE(out.back() == '\n');
    out.pop_back();
    const auto record = parse_journal_record(out);
    INFO(out);
    REQUIRE(record.has_value());
    CHECK(record->watermark == watermark);
    CHECK_FALSE(record->continues_batch);
    // Only the first tab separates: the event text is kept whole.
    CHECK(record->event_json == "{\"tab\":\"a\\tb\"}");
  }
  // A raw tab inside the event text stays part of the event text too.
  const auto record = parse_journal_record("5\ta\tb");
  REQUIRE(record.has_value());
  CHECK(record->watermark == Instant(Duration(5)));
  CHECK(record->event_json == "a\tb");
}

TEST_CASE("journal: malformed lines are not records", "[journal]") {
  for (const std::string_view line :
       {std::string_view(""), std::string_view("1795359598000"),
        std::string_view("1795359598000 {\"id\":\"m1\"}"), std::string_view("\t{}"),
        std::string_view("abc\t{}"), std::string_view("12x\t{}"), std::string_view(" 12\t{}"),
        std::string_view("12 \t{}"), std::string_view("+12\t{}"), std::string_view("1.5\t{}"),
        std::string_view("99999999999999999999\t{}"), std::string_view("{\"id\":\"m1\"}"),
        std::string_view("+\t{}"), std::string_view("12++\t{}"), std::string_view("12+ \t{}"),
        std::string_view("1+2\t{}"), std::string_view("12-\t{}")}) {
    INFO("line: " << std::string(line));
    CHECK_FALSE(parse_journal_record(line).has_value());
  }
}

TEST_CASE("journal: many records round trip whatever the number of lines read per call",
          "[journal]") {
  TempDir dir("round_trip");
  const std::string path = dir.file("events.journal");
  constexpr int kRecords = 250;
  std::uint64_t expected_size = 0;
  {
    JournalWriter writer;
    REQUIRE_FALSE(writer.open(path));
    CHECK(writer.size() == 0);
    // Batches of different sizes, as requests bring them.
    int next = 0;
    for (int batch = 1; next < kRecords; ++batch) {
      std::string records;
      for (int i = 0; i < batch && next < kRecords; ++i, ++next) {
        append_journal_record(records, watermark_of(next), event_json(next));
      }
      REQUIRE_FALSE(writer.append(records));
      expected_size += records.size();
      CHECK(writer.size() == expected_size);
    }
  }
  REQUIRE(fs::file_size(path) == expected_size);

  for (const std::size_t max_lines : {std::size_t{1}, std::size_t{3}, std::size_t{1000000}}) {
    INFO("max_lines " << max_lines);
    JournalReader reader;
    REQUIRE_FALSE(reader.open(path));
    std::size_t calls = 0;
    const std::vector<Line> lines = read_all(reader, max_lines, &calls);
    REQUIRE(lines.size() == kRecords);
    for (int i = 0; i < kRecords; ++i) {
      const Line& line = lines[static_cast<std::size_t>(i)];
      CHECK(line.number == static_cast<std::uint64_t>(i + 1));
      const auto record = parse_journal_record(line.text);
      REQUIRE(record.has_value());
      CHECK(record->watermark == watermark_of(i));
      CHECK(record->event_json == event_json(i));
    }
    CHECK(reader.lines_read() == kRecords);
    CHECK(reader.complete_bytes() == expected_size);
    // Bounded steps: a call never reads more than asked, so the count of calls follows.
    if (max_lines == 1) CHECK(calls >= kRecords);
    if (max_lines == 3) CHECK(calls >= (kRecords + 2) / 3);
    if (max_lines == 1000000) CHECK(calls == 1);
    // Once at the end, it stays there.
    std::error_code error;
    CHECK_FALSE(reader.read(
        10, [](std::string_view, std::uint64_t) { FAIL("no line after the end"); }, error));
    CHECK_FALSE(error);
  }

  // A writer opened on an existing journal continues after its end.
  JournalWriter writer;
  REQUIRE_FALSE(writer.open(path));
  CHECK(writer.size() == expected_size);
}

TEST_CASE("journal: lines longer than one read buffer and lines across its edge are whole",
          "[journal]") {
  TempDir dir("large");
  const std::string path = dir.file("events.journal");
  // ~1.1 KiB records: some of the 3000 straddle every 1 MiB read boundary; one is 2.5 MiB long.
  const std::string padding(1100, 'x');
  const std::string huge(5 * 512 * 1024, 'y');
  std::vector<std::string> events;
  std::string records;
  for (int i = 0; i < 3000; ++i) {
    events.push_back(R"({"id":")" + std::to_string(i) + R"(","pad":")" +
                     (i == 1500 ? huge : padding) + R"("})");
    append_journal_record(records, watermark_of(i), events.back());
  }
  {
    JournalWriter writer;
    REQUIRE_FALSE(writer.open(path));
    REQUIRE_FALSE(writer.append(records));
  }
  JournalReader reader;
  REQUIRE_FALSE(reader.open(path));
  std::size_t calls = 0;
  const std::vector<Line> lines = read_all(reader, 7, &calls);
  REQUIRE(lines.size() == events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto record = parse_journal_record(lines[i].text);
    REQUIRE(record.has_value());
    CHECK(record->watermark == watermark_of(static_cast<int>(i)));
    if (record->event_json != events[i]) FAIL("line " << i + 1 << " differs");
  }
  CHECK(reader.complete_bytes() == records.size());
}

TEST_CASE("journal: a torn last line is not read, is cut off, and appending then works",
          "[journal]") {
  TempDir dir("torn");
  const std::string path = dir.file("events.journal");
  std::string complete;
  for (int i = 0; i < 5; ++i) append_journal_record(complete, watermark_of(i), event_json(i));
  {
    JournalWriter writer;
    REQUIRE_FALSE(writer.open(path));
    REQUIRE_FALSE(writer.append(complete));
  }
  // A crash in the middle of the next write: part of a record, no newline.
  std::string torn;
  append_journal_record(torn, watermark_of(5), event_json(5));
  torn.resize(torn.size() / 2);
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << torn;
  }
  REQUIRE(fs::file_size(path) == complete.size() + torn.size());

  for (const std::size_t max_lines : {std::size_t{1}, std::size_t{3}, std::size_t{100}}) {
    INFO("max_lines " << max_lines);
    JournalReader reader;
    REQUIRE_FALSE(reader.open(path));
    std::size_t calls = 0;
    const std::vector<Line> lines = read_all(reader, max_lines, &calls);
    REQUIRE(lines.size() == 5);
    CHECK(parse_journal_record(lines.back().text)->event_json == event_json(4));
    CHECK(reader.lines_read() == 5);
    CHECK(reader.complete_bytes() == complete.size());  // where the torn line starts
  }

  REQUIRE_FALSE(truncate_journal(path, complete.size()));
  CHECK(fs::file_size(path) == complete.size());

  std::string next;
  append_journal_record(next, watermark_of(6), event_json(6));
  {
    JournalWriter writer;
    REQUIRE_FALSE(writer.open(path));
    CHECK(writer.size() == complete.size());
    REQUIRE_FALSE(writer.append(next));
    CHECK(writer.size() == complete.size() + next.size());
  }
  JournalReader reader;
  REQUIRE_FALSE(reader.open(path));
  std::size_t calls = 0;
  const std::vector<Line> lines = read_all(reader, 2, &calls);
  REQUIRE(lines.size() == 6);
  for (int i = 0; i < 5; ++i) {
    CHECK(parse_journal_record(lines[static_cast<std::size_t>(i)].text)->event_json ==
          event_json(i));
  }
  const auto last = parse_journal_record(lines[5].text);
  REQUIRE(last.has_value());
  CHECK(last->watermark == watermark_of(6));
  CHECK(last->event_json == event_json(6));
  CHECK(lines[5].number == 6);
  CHECK(reader.complete_bytes() == complete.size() + next.size());
}

TEST_CASE("journal: a file holding only a torn line reads as empty", "[journal]") {
  TempDir dir("only_torn");
  const std::string path = dir.file("events.journal");
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << "1795359598000\t{\"id\":";
  }
  JournalReader reader;
  REQUIRE_FALSE(reader.open(path));
  std::size_t calls = 0;
  CHECK(read_all(reader, 10, &calls).empty());
  CHECK(reader.complete_bytes() == 0);
  REQUIRE_FALSE(truncate_journal(path, reader.complete_bytes()));
  CHECK(fs::file_size(path) == 0);
}

TEST_CASE("journal: a missing file reads as empty", "[journal]") {
  TempDir dir("missing");
  const std::string path = dir.file("never-written.journal");
  JournalReader reader;
  REQUIRE_FALSE(reader.open(path));
  std::error_code error;
  int lines = 0;
  CHECK_FALSE(reader.read(
      100, [&](std::string_view, std::uint64_t) { ++lines; }, error));
  CHECK_FALSE(error);
  CHECK(lines == 0);
  CHECK(reader.lines_read() == 0);
  CHECK(reader.complete_bytes() == 0);
  // Truncating a missing journal is not an error and does not create it.
  CHECK_FALSE(truncate_journal(path, 0));
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("journal: a writer reports what it cannot do", "[journal]") {
  TempDir dir("writer_errors");
  {
    JournalWriter writer;
    CHECK(writer.open(dir.file("no-such-dir/events.journal")));
  }
  {
    JournalWriter writer;  // never opened
    CHECK(writer.append("0\t{}\n") == std::make_error_code(std::errc::bad_file_descriptor));
    CHECK(writer.size() == 0);
  }
  {
    JournalWriter writer;
    REQUIRE_FALSE(writer.open(dir.file("events.journal")));
    CHECK_FALSE(writer.append(""));  // nothing to write is fine
    CHECK(writer.size() == 0);
  }
}

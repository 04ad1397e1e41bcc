#include "journal_migration.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "local_event_log.h"
#include "replywatch/event_codec.h"
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

Event event_number(int n) {
  Event event;
  event.id = "m-" + std::to_string(n);
  event.platform = "tmall";
  event.shop = "s1";
  event.conversation = "c-" + std::to_string(n % 4);
  event.type = n % 3 == 0 ? EventType::kAgentMessage : EventType::kBuyerMessage;
  event.ts = Instant(Duration(kBase + n * 1000));
  return event;
}

// One line as earlier versions wrote it (daemon/server/journal.cc before the event log).
std::string journal_line(std::int64_t watermark, bool continues, const Event& event) {
  return std::to_string(watermark) + (continues ? "+" : "") + "\t" +
         replywatch::encode_event(event) + "\n";
}

std::vector<LoggedRecord> read_log(const std::string& directory) {
  ReadOptions options;
  options.now = Instant(Duration(kBase + 100'000'000));
  LogError error;
  auto reader = LocalEventLog::read_only(directory, 1, options, error);
  REQUIRE(reader);
  std::vector<LoggedRecord> records;
  while (reader->read(1000, UINT64_MAX, records, error)) {
  }
  REQUIRE_FALSE(error);
  return records;
}

}  // namespace

TEST_CASE("journal_migration: an old journal becomes the log, nothing lost, the old file kept",
          "[journal_migration]") {
  TempDir dir("migration");
  std::string journal;
  journal += journal_line(kBase, false, event_number(1));
  journal += journal_line(kBase, true, event_number(2));
  journal += "not a record at all\n";
  journal += "9223372036854775807\t" + replywatch::encode_event(event_number(3)) + "\n";
  journal += journal_line(kBase + 5000, false, event_number(4));
  journal += journal_line(kBase + 5000, true, event_number(5));
  journal += journal_line(kBase + 9000, false, event_number(6));
  journal += R"(1764000010000	{"id":"7","platform":"tmall")";  // torn: never acknowledged
  dir.write("events.journal", journal);

  MigrationReport report;
  REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), report));
  CHECK(report.migrated);
  CHECK(report.records == 5);
  CHECK(report.skipped_lines == 2);
  CHECK(report.torn_bytes > 0);
  CHECK_FALSE(fs::exists(dir.file("events.journal")));
  CHECK(fs::exists(dir.file("events.journal.migrated")));
  CHECK_FALSE(fs::exists(dir.file("log.migrating")));

  const auto records = read_log(dir.file("log"));
  REQUIRE(records.size() == 5);
  const std::vector<std::string> ids = {"m-1", "m-2", "m-4", "m-5", "m-6"};
  const std::vector<bool> continues = {false, true, false, true, false};
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].record.event.id == ids[i]);
    CHECK(records[i].record.continues_batch == continues[i]);
  }
  CHECK(records[2].record.watermark == Instant(Duration(kBase + 5000)));
  CHECK(records[4].record.event.ts == event_number(6).ts);

  // A second start: nothing more to do.
  MigrationReport again;
  REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), again));
  CHECK_FALSE(again.migrated);
  CHECK(read_log(dir.file("log")).size() == 5);
}

TEST_CASE("journal_migration: interrupted conversions are redone or finished",
          "[journal_migration]") {
  TempDir dir("migration_resume");
  std::string journal;
  for (int i = 0; i < 10; ++i) journal += journal_line(kBase + i, false, event_number(i));
  SECTION("cut short while converting: redone from the journal") {
    dir.write("events.journal", journal);
    dir.write("log.migrating/00000000000000000001.seg", "RWLOG");
    MigrationReport report;
    REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), report));
    CHECK(read_log(dir.file("log")).size() == 10);
  }
  SECTION("cut short after setting the journal aside: finished") {
    dir.write("events.journal", journal);
    MigrationReport report;
    REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), report));
    fs::rename(dir.file("log"), dir.file("log.migrating"));
    MigrationReport finish;
    REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), finish));
    CHECK(finish.migrated);
    CHECK(read_log(dir.file("log")).size() == 10);
  }
  SECTION("a journal written beside an existing log (a downgrade): refused, nothing touched") {
    dir.write("events.journal", journal);
    MigrationReport report;
    REQUIRE_FALSE(migrate_journal(dir.str(), dir.file("log"), report));
    dir.write("events.journal", journal);
    const LogError error = migrate_journal(dir.str(), dir.file("log"), report);
    CHECK(error);
    CHECK_THAT(error.message, Catch::Contains("move one of them away"));
    CHECK(fs::exists(dir.file("events.journal")));
  }
}

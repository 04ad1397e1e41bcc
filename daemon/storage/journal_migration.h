// Upgrade from the line journal of earlier versions (DATA/events.journal, one line per event:
// "WATERMARK_MS[+]<TAB>EVENT_JSON") to the segment log (DATA/log).
//
// Crash-safe in three steps, each redone or finished at the next start: the journal is
// converted into DATA/log.migrating (synced), then renamed to events.journal.migrated (kept
// for a downgrade), then log.migrating becomes log.
#pragma once

#include <cstdint>
#include <string>

#include "event_log.h"

namespace replywatch::storage {

struct MigrationReport {
  bool migrated = false;
  std::uint64_t records = 0;
  std::uint64_t skipped_lines = 0;  // lines that were not records (the old restore skipped them)
  std::uint64_t torn_bytes = 0;     // an unfinished last line, never acknowledged
  std::string kept_as;              // where the old journal went
};

// `log_directory` is DATA/log. Nothing happens when there is no journal.
LogError migrate_journal(const std::string& data_directory, const std::string& log_directory,
                         MigrationReport& report);

}  // namespace replywatch::storage

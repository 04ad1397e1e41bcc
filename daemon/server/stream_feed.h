// The daemon's side of consuming the stream: records read from it (StreamReader) applied to the
// engine host, through the same reorder buffer and engine as local mode, with the watermark of
// a CatchUpClock: a backlog in event time, the wall clock once current. No I/O and no clock:
// the reader's batches and the time are passed in, so tests drive it with time as data.
#pragma once

#include <cstdint>
#include <vector>

#include "catch_up_clock.h"
#include "engine_host.h"
#include "event_log.h"

namespace replywatch::server {

struct StreamFeedCounts {
  std::uint64_t applied = 0;  // offered to the engine (duplicates included)
  std::uint64_t skipped = 0;  // a platform no longer loaded, or a shop no longer admitted
};

class StreamFeed {
 public:
  StreamFeed(std::vector<std::uint32_t> partitions, Duration allowed_lateness);

  // The host (built or restored) whose state covers the stream before `position`, and the
  // stream's last sequence when the reader was opened there.
  void start(EngineHost& host, storage::Sequence position, storage::Sequence stream_last);
  // Another host takes over (a reload): same position.
  void replace_host(EngineHost& host) { host_ = &host; }

  // Applies `records` (stream order), after which the reader reported `pending` messages still
  // to deliver and stood at `next` (past messages of partitions not consumed, too). Records
  // are moved from.
  void apply(std::vector<storage::LoggedRecord>& records, std::uint64_t pending,
             storage::Sequence next, Instant now);
  // Advances the engine as time passes with no message: to the wall clock's watermark when
  // current, nowhere while behind.
  void tick(Instant now);

  jetstream::CatchUpClock& clock() { return clock_; }
  const jetstream::CatchUpClock& clock() const { return clock_; }
  // One past the last record applied: what a snapshot of the host covers.
  storage::Sequence position() const { return clock_.position(); }
  const StreamFeedCounts& counts() const { return counts_; }

 private:
  void advance(Instant now);

  jetstream::CatchUpClock clock_;
  Duration allowed_lateness_;
  EngineHost* host_ = nullptr;
  StreamFeedCounts counts_;
};

}  // namespace replywatch::server

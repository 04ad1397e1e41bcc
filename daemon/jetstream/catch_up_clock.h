// The watermark of an engine fed from the stream, and whether each consumed partition has
// caught up. Pure: what the consumer saw and the wall clock are passed in.
//
// A consumer that is current (nothing pending, connected) runs on the wall clock like a local
// daemon: watermark = now - allowed lateness, so replicas decide the same rounds at the same
// instants. One with a backlog (after a restart, an outage, or a slow spell) catches up in event
// time: the watermark follows the Replywatch-Watermark of the messages it has applied (what the
// ingesting node's engine would have stood at when it published them), as a local daemon's
// restart follows its log's recorded watermarks. So deadlines inside the backlog fire between
// the events they came between, and the backlog's events are not late. Only once nothing is
// pending does the watermark jump to the wall clock's.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "replywatch/time.h"

namespace replywatch::jetstream {

class CatchUpClock {
 public:
  // `partitions`: the consumed ones (their numbers); `lateness`: allowed_lateness.
  CatchUpClock(std::vector<std::uint32_t> partitions, Duration lateness);

  // The consumer started reading at stream sequence `position`; the stream's last sequence
  // then was `stream_last` (0: empty). Nothing is pending when position > stream_last.
  void started(std::uint64_t position, std::uint64_t stream_last);
  // A message at stream sequence `sequence` was applied; `watermark` is its
  // Replywatch-Watermark; `pending` is what the consumer reported still to deliver after it.
  void applied(std::uint64_t sequence, Instant watermark, std::uint64_t pending);
  // The reader stands at `next`: messages before it not applied were of other partitions.
  void passed(std::uint64_t next) {
    if (next > position_) position_ = next;
  }
  // The consumer's link to the stream: while it is down nothing tells how much is pending, so
  // the watermark holds at event time.
  void set_connected(bool connected) { connected_ = connected; }
  // The last stream sequence holding a message of `partition` (0: none), as last looked up.
  void partition_last(std::uint32_t partition, std::uint64_t last_sequence);

  // Whether the consumer has applied everything the stream held when it last said so.
  bool caught_up() const { return connected_ && started_ && pending_ == 0; }
  // Whether every message of `partition` known to be stored has been applied.
  bool caught_up(std::uint32_t partition) const;
  // Stream messages still to read before `partition` is current (0 when it is).
  std::uint64_t lag(std::uint32_t partition) const;
  std::uint64_t pending() const { return pending_; }
  // One past the last applied stream sequence.
  std::uint64_t position() const { return position_; }
  const std::vector<std::uint32_t>& partitions() const { return partitions_; }

  // What the engine is to be advanced to at `now`; never earlier than an answer before (the
  // engine's watermark only moves forward), and nothing before any message when behind.
  std::optional<Instant> watermark(Instant now);

 private:
  struct PartitionState {
    std::uint32_t partition = 0;
    std::uint64_t last_sequence = 0;
  };
  const PartitionState* find(std::uint32_t partition) const;

  std::vector<std::uint32_t> partitions_;
  std::vector<PartitionState> states_;
  Duration lateness_;
  bool connected_ = true;
  bool started_ = false;
  std::uint64_t position_ = 1;
  std::uint64_t pending_ = 0;
  std::optional<Instant> event_time_;  // the latest applied message's watermark
  std::optional<Instant> given_;       // the latest watermark answered
};

}  // namespace replywatch::jetstream

// Reads the stream as an event log (storage::EventLogReader): sequence = stream sequence, so a
// snapshot's sequence says where in the stream its state stands, a restart reads from there and
// a reload reads the retained stream, with the local log's machinery (StateRebuild). One ordered
// consumer over the stream (SUBJECT_PREFIX.>, or the one subject when one partition is
// consumed) gives every replica the same order of every event it applies, across partitions
// too; messages of partitions not consumed are passed over here, so sequences have gaps.
//
// Ordered consumers are ephemeral: no acknowledgements, no server-side position. The snapshot is
// the daemon's acknowledgement; a server-side one could disagree with the state restored (see
// docs/scale-out.md).
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "event_log.h"

namespace replywatch::jetstream {

struct StreamReaderOptions {
  std::string stream = "REPLYWATCH";
  std::string subject_prefix = "replywatch.events";
  std::uint32_t partitions = 16;
  std::vector<std::uint32_t> consumed;  // ascending
  // How long read() waits for a message the stream said was pending before it fails.
  std::chrono::milliseconds delivery_timeout{5000};
};

class StreamReader final : public storage::EventLogReader {
 public:
  // Starts an ordered consumer at `first` (at least 1). `js` must outlive the reader.
  static std::unique_ptr<StreamReader> open(jsCtx* js, StreamReaderOptions options,
                                            storage::Sequence first, storage::LogError& error);
  ~StreamReader() override;
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // Up to `max_records` records of the consumed partitions below `end`; false once nothing
  // more is pending in the stream (or at `end`), and on an error.
  bool read(std::size_t max_records, storage::Sequence end, std::vector<storage::LoggedRecord>& out,
            storage::LogError& error) override;
  // Like read(), but waits at most `wait` for the next message and, when nothing came, returns
  // true with nothing added: for a live feed that keeps reading as messages are published.
  bool read_live(std::size_t max_records, std::chrono::milliseconds wait,
                 std::vector<storage::LoggedRecord>& out, storage::LogError& error);

  storage::Sequence next_sequence() const override { return next_; }
  // Messages that did not decode (their subject, header or event), passed over.
  std::uint64_t skipped_records() const override { return skipped_; }
  // Messages of the stream after the last one read, as the server said with it.
  std::uint64_t pending() const { return pending_; }
  // The last stream sequence at open (0: empty stream).
  storage::Sequence stream_last_at_open() const { return stream_last_at_open_; }

 private:
  StreamReader(jsCtx* js, StreamReaderOptions options, storage::Sequence first);
  // Waits up to `wait_ms` for one message; true with it taken into `out` (or skipped), false
  // on timeout (`error` untouched) or on an error.
  // A message at or after `end` is held for a later call (false, reached_end_ set).
  bool next_message(std::int64_t wait_ms, storage::Sequence end,
                    std::vector<storage::LoggedRecord>& out, storage::LogError& error,
                    bool& timed_out);

  jsCtx* js_;
  StreamReaderOptions options_;
  std::vector<bool> consumed_;  // by partition
  natsSubscription* subscription_ = nullptr;
  natsMsg* held_ = nullptr;
  bool reached_end_ = false;
  // Consumer sequences of the messages delivered since opening follow one another.
  bool delivered_since_open_ = false;
  std::uint64_t last_consumer_sequence_ = 0;
  storage::Sequence next_;
  storage::Sequence stream_last_at_open_ = 0;
  std::uint64_t pending_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace replywatch::jetstream

// The consuming daemon's reader thread: reads the stream (StreamReader::read_live) and hands
// each batch, with what is still pending, to `deliver`, which the daemon posts to its event loop
// (the engine is the loop's alone). About once a second it also looks up the last stream
// sequence of each consumed partition, for per-partition catch-up and lag. nats.c calls block,
// so they stay off the event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "stream_reader.h"

namespace replywatch::jetstream {

struct StreamDelivery {
  std::vector<storage::LoggedRecord> records;  // stream order; may be empty
  std::uint64_t pending = 0;                   // after the last record
  storage::Sequence next = 0;                  // the reader's next sequence after this batch
  bool connected = true;                       // false: reading failed, nothing is known
  // (partition, last stream sequence holding one of its messages; 0: none), when looked up.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> partition_lasts;
  std::string problem;  // why reading failed, once per failure
};

class StreamConsumer {
 public:
  using Deliver = std::function<void(StreamDelivery)>;

  // Starts the thread; `connection` (whose status says whether the stream can be current) and
  // `js` must outlive the consumer. Without a connection, reads that succeed count as connected.
  StreamConsumer(natsConnection* connection, jsCtx* js, StreamReaderOptions options,
                 storage::Sequence first, Deliver deliver);
  // Stops and joins the thread (at most one read's wait).
  ~StreamConsumer();
  StreamConsumer(const StreamConsumer&) = delete;
  StreamConsumer& operator=(const StreamConsumer&) = delete;

 private:
  void run(storage::Sequence first);
  std::vector<std::pair<std::uint32_t, std::uint64_t>> look_up_partition_lasts();

  natsConnection* connection_;
  jsCtx* js_;
  StreamReaderOptions options_;
  Deliver deliver_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The last stream sequence of each of `partitions` (0 for one without a message), by a direct
// lookup per subject; false when the stream cannot be asked.
bool last_sequences(jsCtx* js, const StreamReaderOptions& options,
                    std::vector<std::pair<std::uint32_t, std::uint64_t>>& out);

}  // namespace replywatch::jetstream

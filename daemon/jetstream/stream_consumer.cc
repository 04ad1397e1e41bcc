#include "stream_consumer.h"

#include <fmt/format.h>

namespace replywatch::jetstream {
namespace {

constexpr std::size_t kRecordsPerDelivery = 1024;
constexpr std::chrono::milliseconds kReadWait{200};
constexpr std::chrono::milliseconds kLookupEvery{1000};
constexpr std::chrono::milliseconds kReopenAfter{1000};

}  // namespace

bool last_sequences(jsCtx* js, const StreamReaderOptions& options,
                    std::vector<std::pair<std::uint32_t, std::uint64_t>>& out) {
  out.clear();
  for (const std::uint32_t partition : options.consumed) {
    const std::string subject = fmt::format("{}.{}", options.subject_prefix, partition);
    natsMsg* message = nullptr;
    jsErrCode code{};
    const natsStatus status =
        js_GetLastMsg(&message, js, options.stream.c_str(), subject.c_str(), nullptr, &code);
    if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) {
      out.emplace_back(partition, 0);
      continue;
    }
    if (status != NATS_OK) return false;
    out.emplace_back(partition, natsMsg_GetSequence(message));
    natsMsg_Destroy(message);
  }
  return true;
}

StreamConsumer::StreamConsumer(natsConnection* connection, jsCtx* js, StreamReaderOptions options,
                               storage::Sequence first, Deliver deliver)
    : connection_(connection), js_(js), options_(std::move(options)), deliver_(std::move(deliver)) {
  thread_ = std::thread([this, first] { run(first); });
}

StreamConsumer::~StreamConsumer() {
  stopping_ = true;
  thread_.join();
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> StreamConsumer::look_up_partition_lasts() {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> lasts;
  if (!last_sequences(js_, options_, lasts)) lasts.clear();
  return lasts;
}

void StreamConsumer::run(storage::Sequence first) {
  std::unique_ptr<StreamReader> reader;
  storage::Sequence next = first;
  auto last_lookup = std::chrono::steady_clock::now() - kLookupEvery;
  bool failed = false;
  bool was_connected = true;
  storage::Sequence delivered_next = first;
  while (!stopping_) {
    if (!reader) {
      storage::LogError error;
      reader = StreamReader::open(js_, options_, next, error);
      if (!reader) {
        if (!failed) {
          StreamDelivery down;
          down.next = next;
          down.connected = false;
          down.problem = error.message;
          deliver_(std::move(down));
        }
        failed = true;
        // The steady clock paces retries only; nothing the engine decides depends on it.
        for (auto waited = std::chrono::milliseconds(0); waited < kReopenAfter && !stopping_;
             waited += kReadWait) {
          std::this_thread::sleep_for(kReadWait);
        }
        continue;
      }
      failed = false;
    }
    StreamDelivery delivery;
    storage::LogError error;
    if (!reader->read_live(kRecordsPerDelivery, kReadWait, delivery.records, error)) {
      // Reopened at the next unread message: the ordered consumer's position is ours.
      next = reader->next_sequence();
      reader.reset();
      delivery.next = next;
      delivery.connected = false;
      delivery.problem = error.message;
      deliver_(std::move(delivery));
      failed = true;
      was_connected = false;
      continue;
    }
    next = reader->next_sequence();
    delivery.next = next;
    delivery.pending = reader->pending();
    // A read that times out says nothing about a server that went away: the connection does.
    delivery.connected =
        connection_ == nullptr || natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
    const bool connectivity_changed = delivery.connected != was_connected;
    was_connected = delivery.connected;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_lookup >= kLookupEvery) {
      delivery.partition_lasts = look_up_partition_lasts();
      last_lookup = now;
    }
    const bool moved = next != delivered_next;
    delivered_next = next;
    if (moved || !delivery.partition_lasts.empty() || connectivity_changed) {
      deliver_(std::move(delivery));
    }
  }
}

}  // namespace replywatch::jetstream

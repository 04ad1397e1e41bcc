#include "stream_reader.h"

#include <fmt/format.h>

#include <string_view>

#include "stream_message.h"

namespace replywatch::jetstream {
namespace {

storage::LogError stream_error(const std::string& what, natsStatus status,
                               jsErrCode code = jsErrCode{}) {
  return {
      std::make_error_code(std::errc::io_error),
      fmt::format("{}: {}{}", what, natsStatus_GetText(status),
                  code != jsErrCode{} ? fmt::format(" (JetStream error {})", static_cast<int>(code))
                                      : std::string())};
}

constexpr storage::Sequence kNoEnd = ~storage::Sequence{0};

}  // namespace

StreamReader::StreamReader(jsCtx* js, StreamReaderOptions options, storage::Sequence first)
    : js_(js), options_(std::move(options)), next_(first) {
  consumed_.assign(options_.partitions, false);
  for (const std::uint32_t partition : options_.consumed) {
    if (partition < consumed_.size()) consumed_[partition] = true;
  }
}

StreamReader::~StreamReader() {
  if (held_ != nullptr) natsMsg_Destroy(held_);
  if (subscription_ != nullptr) {
    natsSubscription_Unsubscribe(subscription_);
    natsSubscription_Destroy(subscription_);
  }
}

std::unique_ptr<StreamReader> StreamReader::open(jsCtx* js, StreamReaderOptions options,
                                                 storage::Sequence first,
                                                 storage::LogError& error) {
  std::unique_ptr<StreamReader> reader(
      new StreamReader(js, std::move(options), first < 1 ? 1 : first));
  const StreamReaderOptions& opts = reader->options_;
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  natsStatus status = js_GetStreamInfo(&info, js, opts.stream.c_str(), nullptr, &code);
  if (status != NATS_OK) {
    error = stream_error(fmt::format("cannot read the stream {}", opts.stream), status, code);
    return nullptr;
  }
  reader->stream_last_at_open_ = info->State.LastSeq;
  jsStreamInfo_Destroy(info);
  if (reader->stream_last_at_open_ >= reader->next_) {
    reader->pending_ = reader->stream_last_at_open_ - reader->next_ + 1;
  }
  // The server filters when one subject says what is consumed; otherwise one consumer over the
  // whole stream keeps the stream's order across partitions, and this reader passes over the
  // partitions it does not consume (nats-server 2.9 has one filter subject per consumer).
  const std::string subject = opts.consumed.size() == 1
                                  ? fmt::format("{}.{}", opts.subject_prefix, opts.consumed[0])
                                  : opts.subject_prefix + ".>";
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = opts.stream.c_str();
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
  sub_options.Config.OptStartSeq = reader->next_;
  status =
      js_SubscribeSync(&reader->subscription_, js, subject.c_str(), nullptr, &sub_options, &code);
  if (status != NATS_OK) {
    error = stream_error(fmt::format("cannot consume {} of the stream {}", subject, opts.stream),
                         status, code);
    return nullptr;
  }
  // The ordered consumer gets what the server holds at once; a slow reader keeps the rest on
  // the server (flow control), not in this process.
  // Messages beyond these limits are dropped by the library (then reopened from the first one
  // missing, above); a delivery of the reader waits while the event loop applies earlier ones.
  natsSubscription_SetPendingLimits(reader->subscription_, 262144, 128 * 1024 * 1024);
  return reader;
}

bool StreamReader::next_message(std::int64_t wait_ms, storage::Sequence end,
                                std::vector<storage::LoggedRecord>& out, storage::LogError& error,
                                bool& timed_out) {
  timed_out = false;
  natsMsg* message = held_;
  held_ = nullptr;
  const natsStatus status =
      message != nullptr ? NATS_OK : natsSubscription_NextMsg(&message, subscription_, wait_ms);
  if (status == NATS_TIMEOUT) {
    timed_out = true;
    return false;
  }
  if (status != NATS_OK) {
    error = stream_error(fmt::format("reading the stream {} failed", options_.stream), status);
    return false;
  }
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) != NATS_OK) {
    natsMsg_Destroy(message);
    ++skipped_;  // not a stream message (nothing else is delivered to this subscription)
    return true;
  }
  const storage::Sequence sequence = meta->Sequence.Stream;
  const std::uint64_t consumer_sequence = meta->Sequence.Consumer;
  const std::uint64_t pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  // The consumer numbers what it delivers 1, 2, 3, ...: a jump means the client library dropped
  // messages (a slow consumer). Fail, and the caller reopens at the first one not read.
  if (delivered_since_open_ && consumer_sequence != last_consumer_sequence_ + 1) {
    natsMsg_Destroy(message);
    error = {std::make_error_code(std::errc::io_error),
             fmt::format("reading the stream {} missed messages between {} and {}; reading again "
                         "from {}",
                         options_.stream, next_ - 1, sequence, next_)};
    return false;
  }
  if (sequence >= end) {
    // Kept for the next call with a later end: the consumer cannot give it back.
    held_ = message;
    reached_end_ = true;
    return false;
  }
  delivered_since_open_ = true;
  last_consumer_sequence_ = consumer_sequence;
  pending_ = pending;
  next_ = sequence + 1;

  const std::optional<std::uint32_t> partition = partition_of_subject(
      natsMsg_GetSubject(message), options_.subject_prefix, options_.partitions);
  if (!partition) {
    ++skipped_;
  } else if (consumed_[*partition]) {
    const char* header = nullptr;
    if (natsMsgHeader_Get(message, kWatermarkHeader.data(), &header) != NATS_OK) header = "";
    storage::LoggedRecord logged;
    logged.sequence = sequence;
    std::string problem;
    const std::string_view payload(natsMsg_GetData(message),
                                   static_cast<std::size_t>(natsMsg_GetDataLength(message)));
    if (decode_stream_message(header, payload, logged.record, problem)) {
      out.push_back(std::move(logged));
    } else {
      ++skipped_;
    }
  }
  natsMsg_Destroy(message);
  return true;
}

bool StreamReader::read(std::size_t max_records, storage::Sequence end,
                        std::vector<storage::LoggedRecord>& out, storage::LogError& error) {
  std::size_t taken = 0;
  reached_end_ = false;
  while (taken < max_records && pending_ > 0 && next_ < end) {
    const std::size_t before = out.size();
    bool timed_out = false;
    if (!next_message(options_.delivery_timeout.count(), end, out, error, timed_out)) {
      if (reached_end_) return false;
      if (timed_out) {
        error = {std::make_error_code(std::errc::timed_out),
                 fmt::format("the stream {} did not deliver message {} within {} ms (it said {} "
                             "more were stored)",
                             options_.stream, next_, options_.delivery_timeout.count(), pending_)};
      }
      return false;
    }
    taken += out.size() - before;
  }
  return pending_ > 0 && next_ < end;
}

bool StreamReader::read_live(std::size_t max_records, std::chrono::milliseconds wait,
                             std::vector<storage::LoggedRecord>& out, storage::LogError& error) {
  std::size_t taken = 0;
  bool first = true;
  while (taken < max_records) {
    const std::size_t before = out.size();
    bool timed_out = false;
    // Only the first message is waited for: then whatever has arrived, without waiting.
    if (!next_message(first ? wait.count() : 0, kNoEnd, out, error, timed_out)) return timed_out;
    first = false;
    taken += out.size() - before;
    if (pending_ == 0) break;
  }
  return true;
}

}  // namespace replywatch::jetstream

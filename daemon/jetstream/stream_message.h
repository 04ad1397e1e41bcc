// One message of the stream as the engine takes it: the subject names its partition, the
// Replywatch-Watermark header the ingesting node's watermark at publish time, the payload one
// event in the POST /v1/events JSON shape. Pure: no connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "event_log.h"

namespace replywatch::jetstream {

inline constexpr std::string_view kWatermarkHeader = "Replywatch-Watermark";

// The partition of SUBJECT_PREFIX.P, if `subject` is one of the stream's partitions.
std::optional<std::uint32_t> partition_of_subject(std::string_view subject,
                                                  std::string_view subject_prefix,
                                                  std::uint32_t partitions);

// Decodes a message into a log record (continues_batch false: each message carries its own
// watermark). False with `problem` set when the header or the event does not decode; such a
// message could not have come from an ingest node and is skipped (counted) by the caller.
bool decode_stream_message(std::string_view watermark_header, std::string_view payload,
                           storage::LogRecord& out, std::string& problem);

}  // namespace replywatch::jetstream

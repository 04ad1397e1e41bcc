// How an accepted event is written to the stream (the format ingest nodes and consumers agree
// on; docs/scale-out.md, "Messages"):
//
//   subject               SUBJECT_PREFIX.P, P = fnv1a64(platform + "\n" + shop) mod partitions
//   Nats-Msg-Id           platform + "\n" + shop + "\n" + id, header-escaped (below)
//   Replywatch-Watermark  the ingest node's watermark at publish time, decimal epoch ms
//   payload               the event as one compact JSON object of the POST /v1/events shape
//
// A NATS header value is one line: nats.c turns a raw line feed into a space, and the server
// trims leading white space (checked against nats-server 2.9.10), so "a\nb c" and "a b\nc"
// would be one id and a retried event could be taken for another. The id is therefore escaped
// the way URLs are: '%', every byte up to 0x20 (the separators among them) and 0x7F become %XX
// (uppercase hex). That is one-to-one, and an id of printable characters without '%' reads as
// the contract's string with "%0A" for each separator: `tmall%0Ashop-1%0Aevt-1`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "replywatch/event.h"
#include "replywatch/time.h"

namespace replywatch::jetstream {

inline constexpr const char* kMessageIdHeader = "Nats-Msg-Id";
inline constexpr const char* kWatermarkHeader = "Replywatch-Watermark";

// '%', bytes 0x00-0x20 and 0x7F as %XX; every other byte as it is.
std::string escape_header_value(std::string_view text);
// The inverse; nothing when `text` holds a '%' not followed by two hex digits.
bool unescape_header_value(std::string_view text, std::string& out);

// The Nats-Msg-Id of an event: escape_header_value(platform + "\n" + shop + "\n" + id).
std::string message_id(const Event& event);

// Decimal epoch milliseconds, and back (nothing for anything else).
std::string watermark_header(Instant watermark);
bool parse_watermark_header(std::string_view text, Instant& out);

}  // namespace replywatch::jetstream

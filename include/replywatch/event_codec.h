// JSON to Event, with the rejection reasons of docs/events.md.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "replywatch/event.h"

namespace replywatch {

// A bounded set: these become metric label values.
enum class RejectReason : std::uint8_t {
  kBadJson,
  kNotAnObject,
  kMissingField,
  kBadField,
  kUnknownPlatform,
  kTooFarInFuture,
  kTooOld,        // live only: older than its retries could still be recognised
  kTooManyShops,  // a new shop beyond the platform's cap, or not on its allow-list
};

inline constexpr int kRejectReasonCount = 8;

std::string_view reject_reason_name(RejectReason reason);

struct Rejection {
  RejectReason reason;
  std::string_view field;  // the offending field, empty when not about one field
};

// Decides whether `platform` names a loaded rule file.
using PlatformKnown = std::function<bool(std::string_view platform)>;

// Validates one decoded JSON value. Fields are checked in the order of docs/events.md's field
// table, so the reason names the first problem found.
std::variant<Event, Rejection> decode_event(const boost::json::value& value,
                                            const PlatformKnown& platform_known);

// Parses and validates one JSON text (one NDJSON line).
std::variant<Event, Rejection> decode_event_text(std::string_view text,
                                                 const PlatformKnown& platform_known);

// The canonical JSON text of a validated event: decode_event_text gives back an equal event.
// The daemon's journal stores events in this form.
std::string encode_event(const Event& event);

}  // namespace replywatch

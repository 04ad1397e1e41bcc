// An event's fields as the JSON held them, before validation: what both decoders (a parsed
// boost::json::value, and one NDJSON line read straight from its text) hand to the one set of
// checks, so the two cannot drift apart.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "replywatch/event.h"
#include "replywatch/event_codec.h"

namespace replywatch {

// The members an event may have; every other member is ignored.
enum class EventFieldName : std::uint8_t {
  kId,
  kPlatform,
  kShop,
  kType,
  kConversation,
  kBot,
  kAgent,
  kStatus,
  kTs,
  kChannel,
};

inline constexpr std::size_t kEventFieldCount = 10;

// Member names, in EventFieldName order.
inline constexpr std::array<std::string_view, kEventFieldCount> kEventFieldNames = {
    "id", "platform", "shop", "type", "conversation", "bot", "agent", "status", "ts", "channel"};

struct EventField {
  enum class Kind : std::uint8_t { kAbsent, kNull, kString, kInt64, kUint64, kDouble, kOther };
  Kind kind = Kind::kAbsent;
  std::string_view text;  // kString: valid while the decoder's input or buffers are
  std::int64_t int64 = 0;
  std::uint64_t uint64 = 0;
  double real = 0.0;
};

struct EventFields {
  std::array<EventField, kEventFieldCount> fields{};

  EventField& operator[](EventFieldName name) { return fields[static_cast<std::size_t>(name)]; }
  const EventField& operator[](EventFieldName name) const {
    return fields[static_cast<std::size_t>(name)];
  }
};

// Which member `key` names, if any.
inline std::optional<EventFieldName> event_field_named(std::string_view key) {
  for (std::size_t i = 0; i < kEventFieldCount; ++i) {
    if (kEventFieldNames[i] == key) return static_cast<EventFieldName>(i);
  }
  return std::nullopt;
}

// The checks of docs/events.md in the order of its field table, so the reason names the first
// problem found.
std::variant<Event, Rejection> validate_event_fields(const EventFields& fields,
                                                     const PlatformKnown& platform_known);

}  // namespace replywatch

#include "replywatch/event_codec.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>

#include "event_fields.h"

namespace replywatch {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "buyer_message", "agent_message", "bot_message", "conversation_closed", "agent_status"};

constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "bad_json",         "not_an_object",     "missing_field", "bad_field",
    "unknown_platform", "too_far_in_future", "too_old",       "too_many_shops"};

// The event format (docs/events.md) bounds only id, shop and conversation; other strings are
// bounded by the body limit.
constexpr std::size_t kAnyLength = SIZE_MAX;

using Kind = EventField::Kind;
using Name = EventFieldName;

Rejection reject(RejectReason reason, Name field) {
  return Rejection{reason, kEventFieldNames[static_cast<std::size_t>(field)]};
}

// Checks a string field; sets `out` and returns nothing when it is fine (or absent and optional).
std::optional<Rejection> read_string(const EventFields& fields, Name name, bool required,
                                     std::size_t min_bytes, std::size_t max_bytes,
                                     std::string_view& out) {
  const EventField& field = fields[name];
  if (field.kind == Kind::kAbsent || field.kind == Kind::kNull) {
    if (required) return reject(RejectReason::kMissingField, name);
    return std::nullopt;
  }
  if (field.kind != Kind::kString || field.text.size() < min_bytes ||
      field.text.size() > max_bytes) {
    return reject(RejectReason::kBadField, name);
  }
  out = field.text;
  return std::nullopt;
}

std::optional<EventType> parse_event_type(std::string_view name) {
  for (std::size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::optional<Instant> parse_timestamp(const EventField& field) {
  std::int64_t millis = 0;
  switch (field.kind) {
    case Kind::kString:
      return parse_rfc3339(field.text);
    case Kind::kInt64:
      millis = field.int64;
      break;
    case Kind::kUint64:
      if (field.uint64 > static_cast<std::uint64_t>(kMaxEpochMillis)) return std::nullopt;
      millis = static_cast<std::int64_t>(field.uint64);
      break;
    case Kind::kDouble:
      // Some producers write integers as 1.7e12 or 1700000000000.0: fine when integral.
      if (!std::isfinite(field.real) || std::floor(field.real) != field.real || field.real < 0.0 ||
          field.real > static_cast<double>(kMaxEpochMillis)) {
        return std::nullopt;
      }
      millis = static_cast<std::int64_t>(field.real);
      break;
    default:
      return std::nullopt;
  }
  if (millis < 0 || millis > kMaxEpochMillis) return std::nullopt;
  return Instant(Duration(millis));
}

EventField field_of(const boost::json::value& value) {
  EventField field;
  switch (value.kind()) {
    case boost::json::kind::null:
      field.kind = Kind::kNull;
      break;
    case boost::json::kind::string:
      field.kind = Kind::kString;
      field.text = std::string_view(value.get_string().data(), value.get_string().size());
      break;
    case boost::json::kind::int64:
      field.kind = Kind::kInt64;
      field.int64 = value.get_int64();
      break;
    case boost::json::kind::uint64:
      field.kind = Kind::kUint64;
      field.uint64 = value.get_uint64();
      break;
    case boost::json::kind::double_:
      field.kind = Kind::kDouble;
      field.real = value.get_double();
      break;
    default:
      field.kind = Kind::kOther;
      break;
  }
  return field;
}

}  // namespace

std::string_view event_type_name(EventType type) {
  return kEventTypeNames.at(static_cast<std::size_t>(type));
}

std::string_view reject_reason_name(RejectReason reason) {
  return kRejectReasonNames.at(static_cast<std::size_t>(reason));
}

std::variant<Event, Rejection> validate_event_fields(const EventFields& fields,
                                                     const PlatformKnown& platform_known) {
  Event event;
  std::string_view text;
  if (auto bad = read_string(fields, Name::kId, true, 1, 128, text)) return *bad;
  event.id.assign(text);
  if (auto bad = read_string(fields, Name::kPlatform, true, 0, kAnyLength, text)) return *bad;
  if (!platform_known(text)) return reject(RejectReason::kUnknownPlatform, Name::kPlatform);
  event.platform.assign(text);
  if (auto bad = read_string(fields, Name::kShop, true, 1, 128, text)) return *bad;
  event.shop.assign(text);

  if (auto bad = read_string(fields, Name::kType, true, 1, 64, text)) return *bad;
  const std::optional<EventType> type = parse_event_type(text);
  if (!type) return reject(RejectReason::kBadField, Name::kType);
  event.type = *type;

  if (event.type != EventType::kAgentStatus) {
    text = {};
    if (auto bad = read_string(fields, Name::kConversation, true, 1, 256, text)) return *bad;
    event.conversation.assign(text);
  }
  if (event.type == EventType::kBotMessage) {
    text = {};
    if (auto bad = read_string(fields, Name::kBot, true, 0, kAnyLength, text)) return *bad;
    event.bot.assign(text);
  }
  if (event.type == EventType::kAgentStatus || event.type == EventType::kAgentMessage) {
    const bool required = event.type == EventType::kAgentStatus;
    text = {};
    if (auto bad = read_string(fields, Name::kAgent, required, 0, kAnyLength, text)) return *bad;
    event.agent.assign(text);
  }
  if (event.type == EventType::kAgentStatus) {
    if (auto bad = read_string(fields, Name::kStatus, true, 1, 16, text)) return *bad;
    if (text == "online") {
      event.online = true;
    } else if (text != "offline") {
      return reject(RejectReason::kBadField, Name::kStatus);
    }
  }

  const EventField& ts = fields[Name::kTs];
  if (ts.kind == Kind::kAbsent || ts.kind == Kind::kNull) {
    return reject(RejectReason::kMissingField, Name::kTs);
  }
  const std::optional<Instant> instant = parse_timestamp(ts);
  if (!instant) return reject(RejectReason::kBadField, Name::kTs);
  event.ts = *instant;

  text = "chat";
  if (auto bad = read_string(fields, Name::kChannel, false, 0, kAnyLength, text)) return *bad;
  if (text != "chat") event.channel.assign(text);
  return event;
}

std::variant<Event, Rejection> decode_event(const boost::json::value& value,
                                            const PlatformKnown& platform_known) {
  const boost::json::object* object = value.if_object();
  if (object == nullptr) return Rejection{RejectReason::kNotAnObject, {}};
  EventFields fields;
  for (std::size_t i = 0; i < kEventFieldCount; ++i) {
    if (const boost::json::value* member = object->if_contains(kEventFieldNames[i])) {
      fields.fields[i] = field_of(*member);
    }
  }
  return validate_event_fields(fields, platform_known);
}

std::string encode_event(const Event& event) {
  boost::json::object object;
  object["id"] = event.id;
  object["platform"] = event.platform;
  object["shop"] = event.shop;
  object["type"] = event_type_name(event.type);
  if (event.type != EventType::kAgentStatus) object["conversation"] = event.conversation;
  if (event.type == EventType::kBotMessage) object["bot"] = event.bot;
  if (event.type == EventType::kAgentStatus) {
    object["agent"] = event.agent;
    object["status"] = event.online ? "online" : "offline";
  } else if (event.type == EventType::kAgentMessage && !event.agent.empty()) {
    object["agent"] = event.agent;
  }
  object["ts"] = event.ts.time_since_epoch().count();
  if (event.channel != "chat") object["channel"] = event.channel;
  return boost::json::serialize(object);
}

}  // namespace replywatch

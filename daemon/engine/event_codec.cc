#include "replywatch/event_codec.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>

namespace replywatch {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "buyer_message", "agent_message", "bot_message", "conversation_closed", "agent_status"};

constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "bad_json",         "not_an_object",     "missing_field", "bad_field",
    "unknown_platform", "too_far_in_future", "too_old",       "too_many_shops"};

// SPEC §1 bounds only id, shop and conversation; other strings are bounded by the body limit.
constexpr std::size_t kAnyLength = SIZE_MAX;

Rejection reject(RejectReason reason, std::string_view field) { return Rejection{reason, field}; }

// Looks up a string field; fills `out` and returns nothing when it is fine.
std::optional<Rejection> read_string(const boost::json::object& object, std::string_view field,
                                     bool required, std::size_t min_bytes, std::size_t max_bytes,
                                     std::string& out) {
  const boost::json::value* value = object.if_contains(field);
  if (value == nullptr || value->is_null()) {
    if (required) return reject(RejectReason::kMissingField, field);
    return std::nullopt;
  }
  const boost::json::string* text = value->if_string();
  if (text == nullptr || text->size() < min_bytes || text->size() > max_bytes) {
    return reject(RejectReason::kBadField, field);
  }
  out.assign(text->data(), text->size());
  return std::nullopt;
}

std::optional<EventType> parse_event_type(std::string_view name) {
  for (std::size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::optional<Instant> parse_timestamp(const boost::json::value& value) {
  if (const auto* text = value.if_string()) {
    return parse_rfc3339(std::string_view(text->data(), text->size()));
  }
  std::int64_t millis = 0;
  if (const auto* signed_value = value.if_int64()) {
    millis = *signed_value;
  } else if (const auto* unsigned_value = value.if_uint64()) {
    if (*unsigned_value > static_cast<std::uint64_t>(kMaxEpochMillis)) return std::nullopt;
    millis = static_cast<std::int64_t>(*unsigned_value);
  } else if (const auto* real = value.if_double()) {
    // Some producers write integers as 1.7e12 or 1700000000000.0: fine when integral.
    if (!std::isfinite(*real) || std::floor(*real) != *real || *real < 0.0 ||
        *real > static_cast<double>(kMaxEpochMillis)) {
      return std::nullopt;
    }
    millis = static_cast<std::int64_t>(*real);
  } else {
    return std::nullopt;
  }
  if (millis < 0 || millis > kMaxEpochMillis) return std::nullopt;
  return Instant(Duration(millis));
}

}  // namespace

std::string_view event_type_name(EventType type) {
  return kEventTypeNames.at(static_cast<std::size_t>(type));
}

std::string_view reject_reason_name(RejectReason reason) {
  return kRejectReasonNames.at(static_cast<std::size_t>(reason));
}

std::variant<Event, Rejection> decode_event(const boost::json::value& value,
                                            const PlatformKnown& platform_known) {
  const boost::json::object* object = value.if_object();
  if (object == nullptr) return reject(RejectReason::kNotAnObject, {});

  Event event;
  if (auto bad = read_string(*object, "id", true, 1, 128, event.id)) return *bad;
  if (auto bad = read_string(*object, "platform", true, 0, kAnyLength, event.platform)) {
    return *bad;
  }
  if (!platform_known(event.platform)) return reject(RejectReason::kUnknownPlatform, "platform");
  if (auto bad = read_string(*object, "shop", true, 1, 128, event.shop)) return *bad;

  std::string type_name;
  if (auto bad = read_string(*object, "type", true, 1, 64, type_name)) return *bad;
  const std::optional<EventType> type = parse_event_type(type_name);
  if (!type) return reject(RejectReason::kBadField, "type");
  event.type = *type;

  if (event.type != EventType::kAgentStatus) {
    if (auto bad = read_string(*object, "conversation", true, 1, 256, event.conversation)) {
      return *bad;
    }
  }
  if (event.type == EventType::kBotMessage) {
    if (auto bad = read_string(*object, "bot", true, 0, kAnyLength, event.bot)) return *bad;
  }
  if (event.type == EventType::kAgentStatus || event.type == EventType::kAgentMessage) {
    const bool required = event.type == EventType::kAgentStatus;
    if (auto bad = read_string(*object, "agent", required, 0, kAnyLength, event.agent)) {
      return *bad;
    }
  }
  if (event.type == EventType::kAgentStatus) {
    std::string status;
    if (auto bad = read_string(*object, "status", true, 1, 16, status)) return *bad;
    if (status == "online") {
      event.online = true;
    } else if (status != "offline") {
      return reject(RejectReason::kBadField, "status");
    }
  }

  const boost::json::value* ts = object->if_contains("ts");
  if (ts == nullptr || ts->is_null()) return reject(RejectReason::kMissingField, "ts");
  const std::optional<Instant> instant = parse_timestamp(*ts);
  if (!instant) return reject(RejectReason::kBadField, "ts");
  event.ts = *instant;

  if (auto bad = read_string(*object, "channel", false, 0, kAnyLength, event.channel)) {
    return *bad;
  }
  return event;
}

std::variant<Event, Rejection> decode_event_text(std::string_view text,
                                                 const PlatformKnown& platform_known) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  if (error) return reject(RejectReason::kBadJson, {});
  return decode_event(value, platform_known);
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

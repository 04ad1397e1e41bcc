// One webhook event (docs/events.md), validated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "replywatch/time.h"

namespace replywatch {

enum class EventType : std::uint8_t {
  kBuyerMessage,
  kAgentMessage,
  kBotMessage,
  kConversationClosed,
  kAgentStatus,
};

inline constexpr int kEventTypeCount = 5;

std::string_view event_type_name(EventType type);

struct Event {
  std::string id;
  std::string platform;
  std::string shop;
  std::string conversation;  // empty for agent_status
  std::string bot;           // bot_message only
  std::string agent;         // agent_status; optional on agent_message
  std::string channel = "chat";
  EventType type = EventType::kBuyerMessage;
  bool online = false;  // agent_status
  Instant ts{};
};

}  // namespace replywatch

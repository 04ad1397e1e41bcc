// Event-subscription envelopes: {"type": "zen:event-type:...", "account_id", "id", "time",
// "subject": "zen:ticket:N", "detail": {...}, "event": {...}}. Ids arrive as strings or numbers
// and `time` carries nanoseconds (kept to the millisecond).
#include <fmt/format.h>

#include "body_fields.h"
#include "zendesk_body.h"

namespace replywatch::adapters::zendesk {
namespace {

constexpr std::string_view kTypePrefix = "zen:event-type:";
constexpr std::string_view kTicketSubjectPrefix = "zen:ticket:";

using Refusal = AdapterRefusal;

// The ticket: detail.id, or the subject's "zen:ticket:N" when a body carries no detail id.
std::variant<std::string, Refusal> ticket_id(const boost::json::value& body) {
  if (const auto* id = find_at(body, "/detail/id")) {
    if (auto text = id_text(*id)) return *std::move(text);
    return unprocessable("/detail/id is not an id (a non-empty string or an integer)",
                         "/detail/id");
  }
  if (const auto* subject = find_at(body, "/subject"); subject != nullptr && subject->is_string()) {
    const std::string_view text = subject->get_string();
    if (text.starts_with(kTicketSubjectPrefix) && text.size() > kTicketSubjectPrefix.size()) {
      return std::string(text.substr(kTicketSubjectPrefix.size()));
    }
  }
  return unprocessable("the ticket id is missing (no /detail/id, no \"zen:ticket:N\" subject)",
                       "/detail/id");
}

// Messaging tickets tell their messages through messaging_ticket.message_added (which also
// carries the bot's messages, which never become comments); their comments are skipped so
// that a message is not counted twice under two ids.
// The ticket's channel (detail.via.channel: web, email, chat, native_messaging, ...), in lower
// case, for rule files that score only some channels; none when the body does not say.
void set_channel(boost::json::object& event, const boost::json::value& body) {
  const auto* channel = find_at(body, "/detail/via/channel");
  if (channel != nullptr && channel->is_string() && !channel->get_string().empty()) {
    event["channel"] = ascii_lower(channel->get_string());
  }
}

bool is_messaging_ticket(const boost::json::value& body) {
  const auto* channel = find_at(body, "/detail/via/channel");
  if (channel == nullptr || !channel->is_string()) return false;
  const std::string lower = ascii_lower(channel->get_string());
  return lower == "native_messaging" || lower == "messaging";
}

std::variant<MappedEvents, Refusal> comment_added(const boost::json::value& body,
                                                  const std::string& shop, Instant time,
                                                  const MappingContext& context) {
  auto ticket = ticket_id(body);
  if (auto* refusal = std::get_if<Refusal>(&ticket)) return *refusal;
  const auto* comment = find_at(body, "/event/comment");
  if (comment == nullptr || !comment->is_object()) {
    return unprocessable("/event/comment is missing or not an object", "/event/comment");
  }
  const auto* is_public = find_at(body, "/event/comment/is_public");
  if (is_public == nullptr || !is_public->is_bool()) {
    return unprocessable("/event/comment/is_public is missing or not a boolean",
                         "/event/comment/is_public");
  }
  if (!is_public->get_bool()) return MappedEvents{};  // an internal note
  if (is_messaging_ticket(body)) return MappedEvents{};
  auto comment_id = required_id(body, "/event/comment/id");
  if (auto* refusal = std::get_if<Refusal>(&comment_id)) return *refusal;
  const auto* is_staff = find_at(body, "/event/comment/author/is_staff");
  if (is_staff == nullptr || !is_staff->is_bool()) {
    return unprocessable("/event/comment/author/is_staff is missing or not a boolean",
                         "/event/comment/author/is_staff");
  }
  PublicComment public_comment{std::get<std::string>(comment_id), std::get<std::string>(ticket),
                               std::nullopt};
  if (is_staff->get_bool()) {
    auto author = required_id(body, "/event/comment/author/id");
    if (auto* refusal = std::get_if<Refusal>(&author)) return *refusal;
    public_comment.staff_author = std::get<std::string>(author);
  }
  boost::json::object event = comment_event(public_comment, context.platform, shop, time);
  set_channel(event, body);
  return MappedEvents{std::move(event)};
}

std::variant<MappedEvents, Refusal> status_changed(const boost::json::value& body,
                                                   const std::string& shop, Instant time,
                                                   const MappingContext& context) {
  // event.current is the new status; older payloads carried it only in detail.status.
  const auto* current = find_at(body, "/event/current");
  std::string pointer = "/event/current";
  if (current == nullptr) {
    current = find_at(body, "/detail/status");
    pointer = "/detail/status";
  }
  if (current == nullptr || !current->is_string()) {
    return unprocessable("/event/current (the new status) is missing or not a string",
                         current == nullptr ? "/event/current" : pointer);
  }
  const std::string status = ascii_lower(current->get_string());
  if (status != "solved" && status != "closed") return MappedEvents{};
  auto ticket = ticket_id(body);
  if (auto* refusal = std::get_if<Refusal>(&ticket)) return *refusal;
  const std::string& ticket_text = std::get<std::string>(ticket);
  // Stable across Zendesk's retries of the same event (same ticket, status and time), and
  // distinct for a ticket solved, reopened and solved again.
  boost::json::object event =
      base_event(fmt::format("zd:ticket:{}:{}:{}", ticket_text, status, epoch_ms(time)),
                 context.platform, shop, "conversation_closed", time);
  event["conversation"] = ticket_text;
  set_channel(event, body);
  return MappedEvents{std::move(event)};
}

std::variant<MappedEvents, Refusal> agent_state_changed(const boost::json::value& body,
                                                        const std::string& shop, Instant time,
                                                        const MappingContext& context) {
  auto channel = required_string(body, "/event/channel");
  if (auto* refusal = std::get_if<Refusal>(&channel)) return *refusal;
  if (ascii_lower(std::get<std::string>(channel)) != ascii_lower(context.agent_channel)) {
    return MappedEvents{};
  }
  auto state = required_string(body, "/event/new_state");
  if (auto* refusal = std::get_if<Refusal>(&state)) return *refusal;
  auto agent = required_id(body, "/detail/agent_id");
  if (auto* refusal = std::get_if<Refusal>(&agent)) return *refusal;
  // The state's own instant when it is there; the envelope's time otherwise.
  Instant at = time;
  if (const auto* updated = find_at(body, "/event/updated_at");
      updated != nullptr && updated->is_string()) {
    if (auto parsed = parse_rfc3339(updated->get_string())) at = *parsed;
  }
  const std::string new_state = ascii_lower(std::get<std::string>(state));
  const std::string& agent_id = std::get<std::string>(agent);
  boost::json::object event =
      base_event(fmt::format("zd:agent:{}:{}:{}:{}", agent_id, ascii_lower(context.agent_channel),
                             new_state, epoch_ms(at)),
                 context.platform, shop, "agent_status", at);
  event["agent"] = agent_id;
  event["status"] = new_state == "online" ? "online" : "offline";  // away counts as offline
  return MappedEvents{std::move(event)};
}

std::variant<MappedEvents, Refusal> message_added(const boost::json::value& body,
                                                  const std::string& shop, Instant time,
                                                  const MappingContext& context) {
  auto ticket = ticket_id(body);
  if (auto* refusal = std::get_if<Refusal>(&ticket)) return *refusal;
  auto message_id = required_id(body, "/event/message/id");
  if (auto* refusal = std::get_if<Refusal>(&message_id)) return *refusal;
  auto actor_type = required_string(body, "/event/actor/type");
  if (auto* refusal = std::get_if<Refusal>(&actor_type)) return *refusal;
  const std::string type = ascii_lower(std::get<std::string>(actor_type));
  const std::string id = "zd:message:" + std::get<std::string>(message_id);
  boost::json::object event;
  if (type == "end_user") {
    event = base_event(id, context.platform, shop, "buyer_message", time);
  } else if (type == "agent") {
    auto actor = required_id(body, "/event/actor/id");
    if (auto* refusal = std::get_if<Refusal>(&actor)) return *refusal;
    event = base_event(id, context.platform, shop, "agent_message", time);
    event["agent"] = std::get<std::string>(actor);
  } else if (type == "system" || type == "trigger") {
    // The AI agent or answer bot ("zd:answerBot", ...) by its actor id; a messaging trigger's
    // automatic message as "trigger".
    std::string bot = "trigger";
    if (type == "system") {
      auto actor = required_id(body, "/event/actor/id");
      if (auto* refusal = std::get_if<Refusal>(&actor)) return *refusal;
      bot = std::get<std::string>(actor);
    }
    event = base_event(id, context.platform, shop, "bot_message", time);
    event["bot"] = bot;
  } else {
    return MappedEvents{};  // an actor type replywatch does not know tells of no reply
  }
  event["conversation"] = std::get<std::string>(ticket);
  event["channel"] = "native_messaging";  // what detail.via.channel says of messaging tickets
  return MappedEvents{std::move(event)};
}

}  // namespace

std::variant<MappedEvents, AdapterRefusal> map_envelope(const boost::json::value& body,
                                                        const MappingContext& context) {
  auto type = required_string(body, "/type");
  if (auto* refusal = std::get_if<Refusal>(&type)) return *refusal;
  const std::string_view type_text = std::get<std::string>(type);
  if (!type_text.starts_with(kTypePrefix)) {
    return unprocessable(
        fmt::format("/type \"{}\" is not a Zendesk event type (zen:event-type:...)", type_text),
        "/type");
  }
  const std::string_view event_type = type_text.substr(kTypePrefix.size());
  const bool counted =
      event_type == "ticket.comment_added" || event_type == "ticket.status_changed" ||
      event_type == "agent.state_changed" || event_type == "messaging_ticket.message_added";
  if (!counted) return MappedEvents{};
  auto shop = required_id(body, "/account_id");
  if (auto* refusal = std::get_if<Refusal>(&shop)) return *refusal;
  auto time = required_rfc3339(body, "/time");
  if (auto* refusal = std::get_if<Refusal>(&time)) return *refusal;
  const std::string& shop_text = std::get<std::string>(shop);
  const Instant at = std::get<Instant>(time);
  if (event_type == "ticket.comment_added") return comment_added(body, shop_text, at, context);
  if (event_type == "ticket.status_changed") return status_changed(body, shop_text, at, context);
  if (event_type == "agent.state_changed") {
    return agent_state_changed(body, shop_text, at, context);
  }
  return message_added(body, shop_text, at, context);
}

}  // namespace replywatch::adapters::zendesk

// The trigger body of docs/adapters.md, for accounts that notify a webhook from ticket triggers
// instead of subscribing it to events. Zendesk renders every placeholder as text, so ids,
// booleans and the account id arrive as strings; `event` is the constant the admin typed into
// each of the two triggers.
#include <fmt/format.h>

#include "body_fields.h"
#include "zendesk_body.h"

namespace replywatch::adapters::zendesk {
namespace {

using Refusal = AdapterRefusal;

// {{ticket.updated_at_with_timestamp}} renders to the minute ("2026-11-20T09:15Z"); full
// RFC 3339 is taken too.
std::optional<Instant> parse_updated_at(std::string_view text) {
  if (auto parsed = parse_rfc3339(text)) return parsed;
  constexpr std::size_t kMinutePrefix = 16;  // YYYY-MM-DDTHH:MM
  if (text.size() > kMinutePrefix && text[kMinutePrefix] != ':') {
    std::string with_seconds(text.substr(0, kMinutePrefix));
    with_seconds += ":00";
    with_seconds += text.substr(kMinutePrefix);
    return parse_rfc3339(with_seconds);
  }
  return std::nullopt;
}

std::variant<Instant, Refusal> updated_at(const boost::json::value& body) {
  const auto* value = find_at(body, "/ticket/updated_at");
  if (value == nullptr) return unprocessable("/ticket/updated_at is missing", "/ticket/updated_at");
  if (value->is_string()) {
    if (auto parsed = parse_updated_at(value->get_string())) return *parsed;
  }
  return unprocessable("/ticket/updated_at is not an ISO 8601 timestamp", "/ticket/updated_at");
}

std::variant<bool, Refusal> public_flag(const boost::json::value& body) {
  const auto* value = find_at(body, "/comment/is_public");
  if (value != nullptr) {
    if (value->is_bool()) return value->get_bool();
    if (value->is_string()) {
      const std::string text = ascii_lower(value->get_string());
      if (text == "true") return true;
      if (text == "false") return false;
    }
  }
  return unprocessable("/comment/is_public is not true or false", "/comment/is_public");
}

// {{ticket.via}} as rendered ("Mail", "Web Form", "Chat"), lower case with "_" for spaces, and
// "mail" as the event subscriptions' "email".
void set_channel(boost::json::object& event, const boost::json::value& body) {
  const auto* channel = find_at(body, "/ticket/channel");
  if (channel == nullptr || !channel->is_string() || channel->get_string().empty()) return;
  std::string text = ascii_lower(channel->get_string());
  for (char& c : text) {
    if (c == ' ') c = '_';
  }
  event["channel"] = text == "mail" ? std::string("email") : text;
}

}  // namespace

std::variant<MappedEvents, AdapterRefusal> map_trigger_body(const boost::json::value& body,
                                                            const MappingContext& context) {
  const std::string event_name(body.at("event").get_string());
  if (event_name != "comment_added" && event_name != "status_changed") {
    return unprocessable(
        fmt::format("/event \"{}\" is not comment_added or status_changed", event_name), "/event");
  }
  auto shop = required_id(body, "/account_id");
  if (auto* refusal = std::get_if<Refusal>(&shop)) return *refusal;
  auto ticket = required_id(body, "/ticket/id");
  if (auto* refusal = std::get_if<Refusal>(&ticket)) return *refusal;
  auto updated = updated_at(body);
  if (auto* refusal = std::get_if<Refusal>(&updated)) return *refusal;
  const Instant updated_instant = std::get<Instant>(updated);
  // The placeholder has minutes only; the signature timestamp (seconds) is when Zendesk sent
  // the webhook, moments after the update that fired the trigger.
  const Instant ts = context.sent_at.value_or(updated_instant);
  const std::string& shop_text = std::get<std::string>(shop);
  const std::string& ticket_text = std::get<std::string>(ticket);

  if (event_name == "status_changed") {
    auto status = required_string(body, "/ticket/status");
    if (auto* refusal = std::get_if<Refusal>(&status)) return *refusal;
    const std::string lower = ascii_lower(std::get<std::string>(status));
    if (lower != "solved" && lower != "closed") return MappedEvents{};
    // From the ticket's update time, not the send time, so that a retry keeps its id.
    boost::json::object event =
        base_event(fmt::format("zd:ticket:{}:{}:{}", ticket_text, lower, epoch_ms(updated_instant)),
                   context.platform, shop_text, "conversation_closed", ts);
    event["conversation"] = ticket_text;
    set_channel(event, body);
    return MappedEvents{std::move(event)};
  }

  const auto* comment = find_at(body, "/comment");
  if (comment == nullptr || !comment->is_object()) {
    return unprocessable("/comment is missing or not an object", "/comment");
  }
  auto is_public = public_flag(body);
  if (auto* refusal = std::get_if<Refusal>(&is_public)) return *refusal;
  if (!std::get<bool>(is_public)) return MappedEvents{};  // an internal note
  auto comment_id = required_id(body, "/comment/id");
  if (auto* refusal = std::get_if<Refusal>(&comment_id)) return *refusal;
  auto role = required_string(body, "/comment/author_role");
  if (auto* refusal = std::get_if<Refusal>(&role)) return *refusal;
  const std::string role_text = ascii_lower(std::get<std::string>(role));
  if (role_text.empty()) {
    return unprocessable("/comment/author_role is empty", "/comment/author_role");
  }
  // {{current_user.role}} renders "End-user", "Agent", "Admin" or a custom agent role's name:
  // everyone but an end user is staff.
  PublicComment public_comment{std::get<std::string>(comment_id), ticket_text, std::nullopt};
  if (role_text != "end-user" && role_text != "end user" && role_text != "end_user") {
    auto author = required_id(body, "/comment/author_id");
    if (auto* refusal = std::get_if<Refusal>(&author)) return *refusal;
    public_comment.staff_author = std::get<std::string>(author);
  }
  boost::json::object event = comment_event(public_comment, context.platform, shop_text, ts);
  set_channel(event, body);
  return MappedEvents{std::move(event)};
}

}  // namespace replywatch::adapters::zendesk

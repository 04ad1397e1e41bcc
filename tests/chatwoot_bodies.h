// Chatwoot account-webhook bodies as Chatwoot writes them (Message#webhook_data and the
// conversation's push data, as in Chatwoot's own source): for the adapter's unit tests and the
// daemon's adapter tests. Every field Chatwoot sends is there, so that the adapter is tested on
// real shapes and proven to ignore what it does not read.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace replywatch::test {

struct ChatwootMessage {
  std::int64_t id = 5012;
  std::string message_type = "incoming";  // incoming | outgoing | activity | template
  bool is_private = false;
  // The sender object's `type` (contact, user, agent_bot, captain_assistant); "" for none.
  std::string sender_type = "contact";
  std::int64_t sender_id = 77;
  std::string created_at = "2026-11-26T09:15:02.120Z";  // ISO 8601 with milliseconds
  std::int64_t created_at_seconds = 1795684502;         // the same, as push data writes it
  std::int64_t conversation = 41;                       // the display id
  std::int64_t inbox = 12;
  std::string channel = "Channel::Api";
  std::optional<std::int64_t> account = 3;
  boost::json::object content_attributes = {};
  boost::json::object additional_attributes = {};
  std::string event = "message_created";
};

inline boost::json::object chatwoot_sender(const std::string& type, std::int64_t id) {
  if (type == "contact") {
    return {{"additional_attributes", boost::json::object{}},
            {"custom_attributes", boost::json::object{}},
            {"email", "buyer@example.com"},
            {"id", id},
            {"identifier", nullptr},
            {"name", "Li Wei"},
            {"phone_number", nullptr},
            {"thumbnail", ""},
            {"type", "contact"},
            {"account", {{"id", 3}, {"name", "Demo Shop"}}}};
  }
  if (type == "user") {
    return {{"id", id},
            {"name", "Anna Agent"},
            {"available_name", "Anna"},
            {"avatar_url", ""},
            {"type", "user"},
            {"availability_status", "online"},
            {"thumbnail", ""},
            {"email", "anna@example.com"}};
  }
  return {{"id", id}, {"name", "Helper"}, {"avatar_url", ""}, {"type", type}};
}

inline boost::json::object chatwoot_conversation(std::int64_t display_id, std::int64_t inbox,
                                                 const std::string& channel,
                                                 const std::string& status,
                                                 std::optional<std::int64_t> account_in_messages,
                                                 boost::json::value updated_at) {
  boost::json::array messages;
  if (account_in_messages) {
    messages.push_back({{"id", 4999},
                        {"content", "Hello"},
                        {"account_id", *account_in_messages},
                        {"inbox_id", inbox},
                        {"conversation_id", display_id},
                        {"message_type", 0},
                        {"created_at", 1795684400},
                        {"updated_at", "2026-11-26T09:13:20.000Z"},
                        {"private", false},
                        {"status", "sent"},
                        {"source_id", nullptr},
                        {"content_type", "text"},
                        {"content_attributes", boost::json::object{}},
                        {"sender_type", "Contact"},
                        {"sender_id", 77},
                        {"external_source_ids", boost::json::object{}},
                        {"additional_attributes", boost::json::object{}},
                        {"processed_message_content", "Hello"},
                        {"sentiment", boost::json::object{}}});
  }
  boost::json::object conversation{{"additional_attributes", boost::json::object{}},
                                   {"can_reply", true},
                                   {"channel", channel},
                                   {"contact_inbox",
                                    {{"id", 90},
                                     {"contact_id", 77},
                                     {"inbox_id", inbox},
                                     {"source_id", "b9e1c0de"},
                                     {"created_at", "2026-11-26T09:13:19.002Z"},
                                     {"updated_at", "2026-11-26T09:13:19.002Z"},
                                     {"hmac_verified", false},
                                     {"pubsub_token", "tok"}}},
                                   {"id", display_id},
                                   {"inbox_id", inbox},
                                   {"messages", std::move(messages)},
                                   {"labels", boost::json::array{}},
                                   {"meta",
                                    {{"sender", chatwoot_sender("contact", 77)},
                                     {"assignee", nullptr},
                                     {"team", nullptr},
                                     {"hmac_verified", false}}},
                                   {"status", status},
                                   {"custom_attributes", boost::json::object{}},
                                   {"snoozed_until", nullptr},
                                   {"unread_count", 1},
                                   {"first_reply_created_at", nullptr},
                                   {"priority", nullptr},
                                   {"waiting_since", 1795684400},
                                   {"agent_last_seen_at", 0},
                                   {"contact_last_seen_at", 0},
                                   {"last_activity_at", 1795684502},
                                   {"timestamp", 1795684502},
                                   {"created_at", 1795684399}};
  if (!updated_at.is_null()) conversation["updated_at"] = updated_at;
  return conversation;
}

inline std::string chatwoot_message_body(const ChatwootMessage& m) {
  boost::json::object body{
      {"event", m.event},
      {"id", m.id},
      {"content", "Where is my order?"},
      {"created_at", m.created_at},
      {"message_type", m.message_type},
      {"content_type", "text"},
      {"content_attributes", m.content_attributes},
      {"additional_attributes", m.additional_attributes},
      {"source_id", nullptr},
      {"private", m.is_private},
      {"sender", m.sender_type.empty()
                     ? boost::json::value(nullptr)
                     : boost::json::value(chatwoot_sender(m.sender_type, m.sender_id))},
      {"contact", chatwoot_sender("contact", 77)},
      {"inbox", {{"id", m.inbox}, {"name", "Marketplace inbox"}}},
      {"conversation", chatwoot_conversation(m.conversation, m.inbox, m.channel, "open", m.account,
                                             boost::json::value(1795684502.120334))}};
  if (m.account) body["account"] = {{"id", *m.account}, {"name", "Demo Shop"}};
  return boost::json::serialize(body);
}

struct ChatwootStatusChange {
  std::int64_t conversation = 41;
  std::int64_t inbox = 12;
  std::string channel = "Channel::Api";
  std::string status = "resolved";
  boost::json::value updated_at = 1795684800.5571;  // float Unix seconds
  bool account_object = true;                       // newer Chatwoot: `account` on the body
  std::optional<std::int64_t> account_in_messages = 3;
};

inline std::string chatwoot_status_body(const ChatwootStatusChange& c) {
  boost::json::object body = chatwoot_conversation(c.conversation, c.inbox, c.channel, c.status,
                                                   c.account_in_messages, c.updated_at);
  body["event"] = "conversation_status_changed";
  body["changed_attributes"] =
      boost::json::array{{{"status", {{"previous_value", "open"}, {"current_value", c.status}}}}};
  if (c.account_object) body["account"] = {{"id", 3}, {"name", "Demo Shop"}};
  return boost::json::serialize(body);
}

}  // namespace replywatch::test

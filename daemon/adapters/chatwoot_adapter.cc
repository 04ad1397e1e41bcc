#include "chatwoot_adapter.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>

#include "adapter_factory.h"
#include "signature.h"

namespace replywatch::adapters {
namespace {

namespace json = boost::json;

// Chatwoot signs as POST /v1/events does (signature.h), under its own header names.
constexpr SignatureHeaders kChatwootSignatureHeaders{"X-Chatwoot-Timestamp",
                                                     "X-Chatwoot-Signature"};

AdapterRefusal unauthorized(std::string reason) {
  return {AdapterRefusalKind::kUnauthorized, std::move(reason), ""};
}

AdapterRefusal unprocessable(std::string reason, std::string pointer) {
  return {AdapterRefusalKind::kUnprocessable, std::move(reason), std::move(pointer)};
}

std::string_view timestamp_of(const AdapterRequest& request) {
  return request.header(kChatwootSignatureHeaders.timestamp).value_or("");
}

std::string_view signature_of(const AdapterRequest& request) {
  return request.header(kChatwootSignatureHeaders.signature).value_or("");
}

std::optional<AdapterRefusal> refusal_for(SignatureCheck check) {
  if (check == SignatureCheck::kValid) return std::nullopt;
  return unauthorized(signature_check_text(check, kChatwootSignatureHeaders));
}

// A member that is present and not null.
const json::value* member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const json::object* object_member(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  return value == nullptr ? nullptr : value->if_object();
}

std::string_view string_member(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_string();
}

// Chatwoot's ids are JSON integers; a relay may have turned them into strings.
std::optional<std::string> id_of(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  if (value->is_string() && !value->get_string().empty()) return std::string(value->get_string());
  return std::nullopt;
}

// The three forms Chatwoot writes instants in: an ISO 8601 string with milliseconds (a
// message's created_at), integer Unix seconds (most conversation fields) and float Unix
// seconds (a conversation's updated_at). Digits below the millisecond are truncated.
std::optional<Instant> instant_of(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  constexpr std::int64_t kMaxSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (value->is_string()) return parse_rfc3339(value->get_string());
  if (value->is_int64() || value->is_uint64()) {
    if (value->is_uint64() && value->get_uint64() > static_cast<std::uint64_t>(kMaxSeconds)) {
      return std::nullopt;
    }
    const std::int64_t seconds =
        value->is_int64() ? value->get_int64() : static_cast<std::int64_t>(value->get_uint64());
    if (seconds < 0 || seconds > kMaxSeconds) return std::nullopt;
    return Instant(std::chrono::seconds(seconds));
  }
  if (value->is_double()) {
    const double seconds = value->get_double();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > static_cast<double>(kMaxSeconds)) {
      return std::nullopt;
    }
    // Rounded to the microsecond first, so that 1732872245.123 (stored as .12299999) stays .123.
    const auto micros = static_cast<std::int64_t>(std::llround(seconds * 1e6));
    return Instant(Duration(micros / 1000));
  }
  return std::nullopt;
}

// "Channel::WebWidget" -> "web_widget", "Channel::Api" -> "api".
std::string channel_name(std::string_view type) {
  if (type.starts_with("Channel::")) type.remove_prefix(9);
  std::string name;
  for (std::size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    if (std::isupper(static_cast<unsigned char>(c)) != 0) {
      if (!name.empty() && name.back() != '_') name.push_back('_');
      name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (c == ':') {
      if (!name.empty() && name.back() != '_') name.push_back('_');
    } else {
      name.push_back(c);
    }
  }
  return name;
}

enum class MessageType { kIncoming, kOutgoing, kActivity, kTemplate };

// The enum as the webhook writes it (a name) or as push data does (its integer).
std::optional<MessageType> message_type_of(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) {
    const std::string_view name = value->get_string();
    if (name == "incoming") return MessageType::kIncoming;
    if (name == "outgoing") return MessageType::kOutgoing;
    if (name == "activity") return MessageType::kActivity;
    if (name == "template") return MessageType::kTemplate;
    return std::nullopt;
  }
  if (value->is_int64() && value->get_int64() >= 0 && value->get_int64() <= 3) {
    return static_cast<MessageType>(value->get_int64());
  }
  return std::nullopt;
}

// Who wrote an outgoing message: the sender object's `type` (user, agent_bot,
// captain_assistant, contact), or the message's own `sender_type` (User, AgentBot,
// Captain::Assistant, Contact) where a body has that instead.
std::string sender_kind(const json::object& body, const json::object* sender) {
  std::string kind;
  if (sender != nullptr) kind = std::string(string_member(*sender, "type"));
  if (kind.empty()) kind = channel_name(string_member(body, "sender_type"));
  return kind;
}

bool has_member(const json::object* object, std::string_view key) {
  return object != nullptr && member(*object, key) != nullptr;
}

class ChatwootAdapter final : public Adapter {
 public:
  ChatwootAdapter(AdapterSettings settings, ChatwootOptions options)
      : settings_(std::move(settings)), options_(std::move(options)) {}

  std::string_view kind() const override { return "chatwoot"; }

  std::optional<AdapterRefusal> check_headers(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;
    return refusal_for(
        check_signature_headers(timestamp_of(request), signature_of(request), request.now));
  }

  std::optional<AdapterRefusal> authenticate(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;
    return refusal_for(verify_request(*settings_.secret, timestamp_of(request),
                                      signature_of(request), request.body, request.now));
  }

  std::variant<MappedEvents, AdapterRefusal> map(const AdapterRequest& request) const override {
    boost::system::error_code error;
    const json::value parsed = json::parse(request.body, error);
    if (error) return unprocessable("body is not valid JSON: " + error.message(), "");
    const json::object* body = parsed.if_object();
    if (body == nullptr) return unprocessable("body is not a Chatwoot webhook object", "");
    const json::value* event = member(*body, "event");
    if (event == nullptr || !event->is_string()) {
      return unprocessable("no \"event\" string: not a Chatwoot webhook", "/event");
    }
    if (event->get_string() == "message_created") return message_created(*body);
    if (event->get_string() == "conversation_status_changed") return status_changed(*body);
    return MappedEvents{};  // message_updated, conversation_created, typing, contacts, ...
  }

 private:
  // The account: the body's `account.id`, else (older conversation events) a message's
  // `account_id`, else the configured account_id.
  std::variant<std::string, AdapterRefusal> shop_of(const json::object& body,
                                                    const json::object* conversation) const {
    std::optional<std::string> account;
    std::string pointer = "/account/id";
    if (const json::object* object = object_member(body, "account")) {
      account = id_of(member(*object, "id"));
      if (!account) return unprocessable("account.id is not an id", pointer);
    }
    if (!account && conversation != nullptr) {
      const json::value* messages = member(*conversation, "messages");
      if (messages != nullptr && messages->is_array() && !messages->get_array().empty() &&
          messages->get_array()[0].is_object()) {
        account = id_of(member(messages->get_array()[0].get_object(), "account_id"));
        pointer = conversation == &body ? "/messages/0/account_id"
                                        : "/conversation/messages/0/account_id";
      }
    }
    if (!account) {
      if (options_.account_id) return *options_.account_id;
      return unprocessable(
          "no account in the body (account.id); set account_id in the adapter's config for a "
          "Chatwoot that does not send it",
          "/account");
    }
    if (options_.account_id && *account != *options_.account_id) {
      return unprocessable(fmt::format("the body is from Chatwoot account {}; this adapter is "
                                       "configured for account {}",
                                       *account, *options_.account_id),
                           pointer);
    }
    return *account;
  }

  json::object event_base(std::string id, std::string shop, std::string_view type,
                          std::string conversation, Instant ts, std::string_view channel) const {
    json::object out;
    out["id"] = std::move(id);
    out["platform"] = settings_.platform;
    out["shop"] = std::move(shop);
    out["type"] = type;
    out["conversation"] = std::move(conversation);
    out["ts"] = format_rfc3339(ts);
    if (!channel.empty()) out["channel"] = channel_name(channel);
    return out;
  }

  std::variant<MappedEvents, AdapterRefusal> message_created(const json::object& body) const {
    const auto type = message_type_of(member(body, "message_type"));
    if (!type) {
      return unprocessable("message_type is not incoming, outgoing, activity or template",
                           "/message_type");
    }
    const json::value* is_private = member(body, "private");
    if (is_private != nullptr && !is_private->is_bool()) {
      return unprocessable("private is not true or false", "/private");
    }
    // Private notes are the team talking to itself; activity messages are Chatwoot's own log.
    if ((is_private != nullptr && is_private->get_bool()) || *type == MessageType::kActivity) {
      return MappedEvents{};
    }
    const auto id = id_of(member(body, "id"));
    if (!id) return unprocessable("the message has no id", "/id");
    const json::object* conversation = object_member(body, "conversation");
    if (conversation == nullptr)
      return unprocessable("the message has no conversation", "/conversation");
    const auto conversation_id = id_of(member(*conversation, "id"));
    if (!conversation_id) {
      return unprocessable("the message's conversation has no id", "/conversation/id");
    }
    const auto ts = instant_of(member(body, "created_at"));
    if (!ts) {
      return unprocessable("created_at is not an ISO 8601 time or Unix seconds", "/created_at");
    }
    auto shop = shop_of(body, nullptr);
    if (auto* refusal = std::get_if<AdapterRefusal>(&shop)) return std::move(*refusal);

    std::string_view channel = string_member(*conversation, "channel");
    if (channel.empty()) {
      if (const json::object* inbox = object_member(body, "inbox")) {
        channel = string_member(*inbox, "channel_type");
      }
    }
    json::object out = event_base("cw:msg:" + *id, std::move(std::get<std::string>(shop)),
                                  "buyer_message", *conversation_id, *ts, channel);
    if (*type == MessageType::kIncoming) return MappedEvents{std::move(out)};

    const json::object* sender = object_member(body, "sender");
    const std::string sender_type = sender_kind(body, sender);
    const json::object* content_attributes = object_member(body, "content_attributes");
    const json::object* additional_attributes = object_member(body, "additional_attributes");
    if (*type == MessageType::kOutgoing && sender_type == "user") {
      out["type"] = "agent_message";
      if (auto agent =
              id_of(sender == nullptr ? member(body, "sender_id") : member(*sender, "id"))) {
        out["agent"] = *agent;
      }
      return MappedEvents{std::move(out)};
    }
    const json::value* echo =
        content_attributes == nullptr ? nullptr : member(*content_attributes, "external_echo");
    if (*type == MessageType::kOutgoing && echo != nullptr && echo->is_bool() && echo->get_bool()) {
      // Sent from the channel's own app (a phone's WhatsApp Business): a person, not known here.
      out["type"] = "agent_message";
      return MappedEvents{std::move(out)};
    }
    out["type"] = "bot_message";
    const auto sender_id =
        id_of(sender == nullptr ? member(body, "sender_id") : member(*sender, "id"));
    if (sender_type == "agent_bot" && sender_id) {
      out["bot"] = "agent_bot:" + *sender_id;
    } else if (sender_type == "captain_assistant" && sender_id) {
      out["bot"] = "captain:" + *sender_id;
    } else if (has_member(content_attributes, "automation_rule_id")) {
      out["bot"] = "automation";
    } else if (has_member(additional_attributes, "campaign_id")) {
      out["bot"] = "campaign";
    } else {
      out["bot"] = *type == MessageType::kTemplate ? "template" : "system";
    }
    return MappedEvents{std::move(out)};
  }

  std::variant<MappedEvents, AdapterRefusal> status_changed(const json::object& body) const {
    const json::value* status = member(body, "status");
    if (status == nullptr || !status->is_string()) {
      return unprocessable("the conversation has no status", "/status");
    }
    if (status->get_string() != "resolved") return MappedEvents{};
    const auto conversation_id = id_of(member(body, "id"));
    if (!conversation_id) return unprocessable("the conversation has no id", "/id");
    // updated_at is the instant of the change; a Chatwoot without it has `timestamp`, the
    // conversation's last activity, which the resolve itself sets.
    std::optional<Instant> ts;
    std::string pointer = "/updated_at";
    if (member(body, "updated_at") != nullptr) {
      ts = instant_of(member(body, "updated_at"));
    } else if (member(body, "timestamp") != nullptr) {
      ts = instant_of(member(body, "timestamp"));
      pointer = "/timestamp";
    }
    if (!ts) return unprocessable("no readable updated_at (Unix seconds)", pointer);
    auto shop = shop_of(body, &body);
    if (auto* refusal = std::get_if<AdapterRefusal>(&shop)) return std::move(*refusal);
    const std::int64_t ms = ts->time_since_epoch().count();
    json::object out = event_base(fmt::format("cw:conv:{}:resolved:{}", *conversation_id, ms),
                                  std::move(std::get<std::string>(shop)), "conversation_closed",
                                  *conversation_id, *ts, string_member(body, "channel"));
    return MappedEvents{std::move(out)};
  }

  AdapterSettings settings_;
  ChatwootOptions options_;
};

}  // namespace

std::unique_ptr<Adapter> make_chatwoot(AdapterSettings settings, ChatwootOptions options) {
  return std::make_unique<ChatwootAdapter>(std::move(settings), std::move(options));
}

std::unique_ptr<Adapter> make_chatwoot_adapter(AdapterSettings settings, const YAML::Node& entry,
                                               const ConfigPosition& at,
                                               std::vector<std::string>& errors) {
  ChatwootOptions options;
  const std::size_t errors_before = errors.size();
  for (const auto& item : entry) {
    const std::string key = item.first.Scalar();
    if (is_common_adapter_key(key)) continue;
    if (key == "account_id") {
      const YAML::Node& value = item.second;
      if (!value.IsScalar() || value.Scalar().empty()) {
        errors.push_back(
            fmt::format("{}: adapters[{}].account_id: must be the Chatwoot account's "
                        "id (a number)",
                        at(value.Mark()), settings.name));
        continue;
      }
      options.account_id = value.Scalar();
      continue;
    }
    errors.push_back(
        fmt::format("{}: adapters[{}]: unknown key \"{}\" for kind chatwoot (known: "
                    "name, kind, platform, secret_file, insecure, account_id)",
                    at(item.first.Mark()), settings.name, key));
  }
  if (errors.size() != errors_before) return nullptr;
  return make_chatwoot(std::move(settings), std::move(options));
}

}  // namespace replywatch::adapters

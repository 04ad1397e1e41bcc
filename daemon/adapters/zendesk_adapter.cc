#include "zendesk_adapter.h"

#include <fmt/format.h>

#include <chrono>

#include "body_fields.h"
#include "hmac.h"
#include "zendesk_body.h"

namespace replywatch::adapters {
namespace {

constexpr std::string_view kSignatureHeader = "X-Zendesk-Webhook-Signature";
constexpr std::string_view kTimestampHeader = "X-Zendesk-Webhook-Signature-Timestamp";
constexpr auto kSignatureWindow = std::chrono::seconds(300);

AdapterRefusal unauthorized(std::string reason) {
  return AdapterRefusal{AdapterRefusalKind::kUnauthorized, std::move(reason), ""};
}

class ZendeskAdapter final : public Adapter {
 public:
  ZendeskAdapter(AdapterSettings settings, std::string agent_channel)
      : settings_(std::move(settings)), agent_channel_(std::move(agent_channel)) {}

  std::string_view kind() const override { return "zendesk"; }

  // Both headers present and the timestamp inside the window: all that needs no body.
  std::optional<AdapterRefusal> check_headers(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;  // `insecure: true`
    const auto signature = request.header(kSignatureHeader);
    const auto timestamp = request.header(kTimestampHeader);
    if (!signature || !timestamp || signature->empty() || timestamp->empty()) {
      return unauthorized(fmt::format("missing {} or {}", kSignatureHeader, kTimestampHeader));
    }
    const std::optional<Instant> sent = parse_rfc3339(*timestamp);
    if (!sent) return unauthorized(fmt::format("{} is not RFC 3339", kTimestampHeader));
    const auto skew = request.now - *sent;
    if (skew > kSignatureWindow || skew < -kSignatureWindow) {
      return unauthorized(
          fmt::format("{} is more than 300 s from the server's clock", kTimestampHeader));
    }
    return std::nullopt;
  }

  std::optional<AdapterRefusal> authenticate(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;
    if (auto refusal = check_headers(request)) return refusal;
    const std::string expected =
        zendesk_signature(*settings_.secret, *request.header(kTimestampHeader), request.body);
    if (!equal_in_constant_time(*request.header(kSignatureHeader), expected)) {
      return unauthorized("signature does not match");
    }
    return std::nullopt;
  }

  std::variant<MappedEvents, AdapterRefusal> map(const AdapterRequest& request) const override {
    auto parsed = parse_body(request.body);
    if (auto* refusal = std::get_if<AdapterRefusal>(&parsed)) return *refusal;
    const boost::json::value& body = std::get<boost::json::value>(parsed);
    const boost::json::object* object = body.if_object();
    if (object == nullptr) {
      return unprocessable("a Zendesk webhook body is a JSON object", "");
    }
    std::optional<Instant> sent_at;
    if (const auto timestamp = request.header(kTimestampHeader)) {
      sent_at = parse_rfc3339(*timestamp);
    }
    const zendesk::MappingContext context{settings_.platform, agent_channel_, sent_at};
    // The two shapes share no top-level key that tells them apart but `type` (the envelope's)
    // and `event` being a string (the trigger body's; the envelope's `event` is an object).
    if (object->contains("type")) return zendesk::map_envelope(body, context);
    if (const auto* event = object->if_contains("event"); event != nullptr && event->is_string()) {
      return zendesk::map_trigger_body(body, context);
    }
    return unprocessable(
        "neither a Zendesk event-subscription body (no \"type\") nor the replywatch trigger body "
        "(no \"event\" string)",
        "");
  }

 private:
  AdapterSettings settings_;
  std::string agent_channel_;
};

}  // namespace

std::string zendesk_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  return to_base64(hmac_sha256(secret, {timestamp, body}));
}

std::unique_ptr<Adapter> make_zendesk_adapter(AdapterSettings settings, const YAML::Node& entry,
                                              const ConfigPosition& at,
                                              std::vector<std::string>& errors) {
  const std::size_t errors_before = errors.size();
  std::string agent_channel = "support";
  if (entry.IsMap()) {
    for (const auto& item : entry) {
      const std::string key = item.first.as<std::string>("");
      if (is_common_adapter_key(key)) continue;
      if (key == "agent_channel") {
        const YAML::Node& value = item.second;
        if (!value.IsScalar() || value.Scalar().empty()) {
          errors.push_back(fmt::format(
              "{}: adapters[{}].agent_channel: must be a channel name (support, messaging, "
              "talk)",
              at(value.Mark()), settings.name));
        } else {
          agent_channel = value.Scalar();
        }
        continue;
      }
      errors.push_back(fmt::format(
          "{}: adapters[{}].{}: unknown key for kind zendesk (its own keys: agent_channel)",
          at(item.first.Mark()), settings.name, key));
    }
  }
  if (errors.size() != errors_before) return nullptr;
  return std::make_unique<ZendeskAdapter>(std::move(settings), std::move(agent_channel));
}

namespace zendesk {

std::int64_t epoch_ms(Instant t) { return t.time_since_epoch().count(); }

boost::json::object base_event(std::string id, const std::string& platform, const std::string& shop,
                               std::string_view type, Instant ts) {
  boost::json::object event;
  event["id"] = std::move(id);
  event["platform"] = platform;
  event["shop"] = shop;
  event["type"] = type;
  event["ts"] = format_rfc3339(ts);
  return event;
}

boost::json::object comment_event(const PublicComment& comment, const std::string& platform,
                                  const std::string& shop, Instant ts) {
  boost::json::object event =
      base_event("zd:comment:" + comment.id, platform, shop,
                 comment.staff_author ? "agent_message" : "buyer_message", ts);
  event["conversation"] = comment.ticket;
  if (comment.staff_author) event["agent"] = *comment.staff_author;
  return event;
}

}  // namespace zendesk
}  // namespace replywatch::adapters

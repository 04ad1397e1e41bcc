#include "mapping_adapter.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "body_fields.h"
#include "hmac.h"
#include "mapping_config.h"
#include "signature.h"

namespace replywatch::adapters {
namespace {

using mapping::FieldSource;
using mapping::MappingConfig;
using mapping::TimeFormat;

constexpr double kEpochMillisFrom = 1e11;  // 1973 in ms, 5138 in s: below it a number is seconds

AdapterRefusal unauthorized(std::string reason) {
  return AdapterRefusal{AdapterRefusalKind::kUnauthorized, std::move(reason), ""};
}

// X-Replywatch-Timestamp / X-Replywatch-Signature as on POST /v1/events (docs/events.md).
std::optional<AdapterRefusal> signature_refusal(SignatureCheck check) {
  if (check == SignatureCheck::kValid) return std::nullopt;
  return unauthorized(signature_check_text(check, kReplywatchSignatureHeaders));
}

std::optional<AdapterRefusal> check_signature_headers(const AdapterRequest& request) {
  return signature_refusal(adapters::check_signature_headers(
      request.header(kReplywatchSignatureHeaders.timestamp).value_or(""),
      request.header(kReplywatchSignatureHeaders.signature).value_or(""), request.now));
}

std::optional<AdapterRefusal> check_signature(const AdapterRequest& request,
                                              const std::string& secret) {
  return signature_refusal(
      verify_request(secret, request.header(kReplywatchSignatureHeaders.timestamp).value_or(""),
                     request.header(kReplywatchSignatureHeaders.signature).value_or(""),
                     request.body, request.now));
}

std::optional<AdapterRefusal> check_bearer(const AdapterRequest& request,
                                           const std::string& token) {
  const auto header = request.header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (!header || header->size() < kScheme.size() ||
      ascii_lower(header->substr(0, kScheme.size())) != kScheme) {
    return unauthorized("missing Authorization: Bearer TOKEN");
  }
  std::string_view given = header->substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  if (!equal_in_constant_time(given, token)) return unauthorized("bearer token does not match");
  return std::nullopt;
}

// What one field resolved to for one event object.
struct Resolved {
  std::optional<std::string> text;  // nothing: absent
  bool no_event = false;            // a table said this object tells of no event
  std::string pointer;              // in the body, for refusals ("" for constants)
  const boost::json::value* value = nullptr;
};

class EventBuilder {
 public:
  EventBuilder(const MappingConfig& config, const AdapterRequest& request,
               const boost::json::value& body, const boost::json::value& object, std::string base,
               std::optional<std::size_t> index)
      : config_(config),
        request_(request),
        body_(body),
        object_(object),
        base_(std::move(base)),
        index_(index) {}

  // Nothing when the field is not configured or its value is absent.
  std::variant<Resolved, AdapterRefusal> resolve(std::string_view field) const {
    Resolved resolved;
    const auto source_it = config_.fields.find(field);
    if (source_it == config_.fields.end()) return resolved;
    const FieldSource& source = source_it->second;
    std::string found;
    switch (source.from) {
      case FieldSource::From::kConstant:
        resolved.text = source.prefix + source.text;
        return resolved;
      case FieldSource::From::kReceived:
        return resolved;  // read by timestamp()
      case FieldSource::From::kBodyDigest:
        // 128 bits of the body's SHA-256, and the event's place in a body of several.
        resolved.text = source.prefix + to_lower_hex(sha256(request_.body)).substr(0, 32);
        if (index_) *resolved.text += fmt::format(":{}", *index_);
        return resolved;
      case FieldSource::From::kEventPointer:
        resolved.pointer = base_ + source.text;
        resolved.value = find_at(object_, source.text);
        break;
      case FieldSource::From::kBodyPointer:
        resolved.pointer = source.text;
        resolved.value = find_at(body_, source.text);
        break;
    }
    if (resolved.value == nullptr) return resolved;
    if (field == "ts") return resolved;  // read by its format, not as text
    if (const auto* text = resolved.value->if_string()) {
      found = std::string(*text);
    } else if (auto id = id_text(*resolved.value)) {
      found = *std::move(id);
    } else if (const auto* flag = resolved.value->if_bool()) {
      found = *flag ? "true" : "false";
    } else if (const auto* number = resolved.value->if_double()) {
      found = fmt::format("{}", *number);
    } else {
      return unprocessable(
          fmt::format("{} (field {}) is not a string, number or boolean", resolved.pointer, field),
          resolved.pointer);
    }
    if (source.has_table) {
      auto entry = source.table.find(found);
      if (entry == source.table.end()) {
        if (!source.fallback) {
          return unprocessable(fmt::format("\"{}\" at {} is not in the values of field {}", found,
                                           resolved.pointer, field),
                               resolved.pointer);
        }
        if (!*source.fallback) {
          resolved.no_event = true;
          return resolved;
        }
        found = **source.fallback;
      } else if (!entry->second) {
        resolved.no_event = true;
        return resolved;
      } else {
        found = *entry->second;
      }
    } else if (field == "status" && resolved.value->is_bool()) {
      found = resolved.value->get_bool() ? "online" : "offline";
    }
    resolved.text = source.prefix + found;
    return resolved;
  }

  std::variant<Instant, AdapterRefusal> timestamp(const Resolved& resolved) const {
    const FieldSource& source = config_.fields.at("ts");
    if (source.from == FieldSource::From::kReceived) return request_.now;
    const TimeFormat format = source.time_format;
    const boost::json::value& value = *resolved.value;
    const auto bad = [&](std::string_view expected) {
      return unprocessable(fmt::format("{} (field ts) is not {}", resolved.pointer, expected),
                           resolved.pointer);
    };
    std::optional<double> number;
    if (const auto* text = value.if_string()) {
      const bool digits = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.';
      });
      if (!digits || format == TimeFormat::kRfc3339) {
        if (format == TimeFormat::kEpochSeconds || format == TimeFormat::kEpochMillis) {
          return bad("an epoch number");
        }
        if (auto parsed = parse_rfc3339(*text)) return *parsed;
        return bad("an RFC 3339 timestamp");
      }
      double parsed = 0;
      const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), parsed);
      if (ec != std::errc{} || ptr != text->data() + text->size()) return bad("an epoch number");
      number = parsed;
    } else if (value.is_number()) {
      if (format == TimeFormat::kRfc3339) return bad("an RFC 3339 timestamp");
      number = value.to_number<double>();
    } else {
      return bad("a timestamp (an RFC 3339 string or an epoch number)");
    }
    const bool seconds = format == TimeFormat::kEpochSeconds ||
                         (format == TimeFormat::kAuto && std::fabs(*number) < kEpochMillisFrom);
    const double millis = std::floor(seconds ? *number * 1000.0 : *number);
    if (!std::isfinite(millis) || millis < 0 || millis > static_cast<double>(kMaxEpochMillis)) {
      return bad("an instant from 1970 to 9999");
    }
    return Instant(Duration(static_cast<std::int64_t>(millis)));
  }

  // The event, nothing when a table says this object tells of none, or a refusal.
  std::variant<std::optional<boost::json::object>, AdapterRefusal> build(
      const std::string& platform) const {
    boost::json::object event;
    auto type = resolve("type");
    if (auto* refusal = std::get_if<AdapterRefusal>(&type)) return *refusal;
    const Resolved& type_field = std::get<Resolved>(type);
    if (type_field.no_event) return std::optional<boost::json::object>{};
    if (!type_field.text) return missing("type", type_field);
    const std::string& type_text = *type_field.text;
    static constexpr std::array<std::string_view, 5> kTypes = {
        "buyer_message", "agent_message", "bot_message", "conversation_closed", "agent_status"};
    if (std::find(kTypes.begin(), kTypes.end(), type_text) == kTypes.end()) {
      return unprocessable(
          fmt::format("\"{}\" at {} is not an event type: give the field a values table", type_text,
                      type_field.pointer),
          type_field.pointer);
    }
    event["type"] = type_text;

    struct Wanted {
      std::string_view field;
      bool required;
    };
    const bool presence = type_text == "agent_status";
    const std::array<Wanted, 8> wanted = {{{"id", true},
                                           {"platform", false},
                                           {"shop", true},
                                           {"conversation", !presence},
                                           {"bot", type_text == "bot_message"},
                                           {"agent", presence},
                                           {"status", presence},
                                           {"channel", false}}};
    for (const Wanted& want : wanted) {
      if (want.field == "conversation" && presence) continue;
      if (want.field == "bot" && type_text != "bot_message") continue;
      if (want.field == "agent" && !presence && type_text != "agent_message") continue;
      if (want.field == "status" && !presence) continue;
      auto resolved = resolve(want.field);
      if (auto* refusal = std::get_if<AdapterRefusal>(&resolved)) return *refusal;
      const Resolved& field = std::get<Resolved>(resolved);
      if (field.no_event) return std::optional<boost::json::object>{};
      if (!field.text) {
        if (want.required) return missing(want.field, field);
        continue;
      }
      if (want.field == "status" && *field.text != "online" && *field.text != "offline") {
        return unprocessable(
            fmt::format("\"{}\" at {} is not online or offline", *field.text, field.pointer),
            field.pointer);
      }
      event[want.field] = *field.text;
    }
    if (!event.contains("platform")) event["platform"] = platform;

    auto ts = resolve("ts");
    if (auto* refusal = std::get_if<AdapterRefusal>(&ts)) return *refusal;
    const Resolved& ts_field = std::get<Resolved>(ts);
    if (ts_field.value == nullptr && config_.fields.at("ts").from != FieldSource::From::kReceived) {
      return missing("ts", ts_field);
    }
    auto instant = timestamp(ts_field);
    if (auto* refusal = std::get_if<AdapterRefusal>(&instant)) return *refusal;
    event["ts"] = format_rfc3339(std::get<Instant>(instant));
    return std::optional<boost::json::object>(std::move(event));
  }

 private:
  AdapterRefusal missing(std::string_view field, const Resolved& resolved) const {
    if (resolved.pointer.empty()) {
      return unprocessable(fmt::format("field {} is not mapped", field), base_);
    }
    return unprocessable(fmt::format("{} (field {}) is missing", resolved.pointer, field),
                         resolved.pointer);
  }

  const MappingConfig& config_;
  const AdapterRequest& request_;
  const boost::json::value& body_;
  const boost::json::value& object_;
  std::string base_;
  std::optional<std::size_t> index_;
};

class MappingAdapter final : public Adapter {
 public:
  MappingAdapter(AdapterSettings settings, MappingConfig config)
      : settings_(std::move(settings)), config_(std::move(config)) {}

  std::string_view kind() const override { return "mapping"; }

  // A bearer token needs no body, so it is checked in full here.
  std::optional<AdapterRefusal> check_headers(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;  // `insecure: true`
    return config_.auth == mapping::Auth::kBearer ? check_bearer(request, *settings_.secret)
                                                  : check_signature_headers(request);
  }

  std::optional<AdapterRefusal> authenticate(const AdapterRequest& request) const override {
    if (!settings_.secret) return std::nullopt;  // `insecure: true`
    return config_.auth == mapping::Auth::kBearer ? check_bearer(request, *settings_.secret)
                                                  : check_signature(request, *settings_.secret);
  }

  std::variant<MappedEvents, AdapterRefusal> map(const AdapterRequest& request) const override {
    auto parsed = parse_body(request.body);
    if (auto* refusal = std::get_if<AdapterRefusal>(&parsed)) return *refusal;
    const boost::json::value& body = std::get<boost::json::value>(parsed);
    const boost::json::value* events = find_at(body, config_.events_pointer);
    const std::string& base = config_.events_pointer;
    if (events == nullptr) {
      return unprocessable(fmt::format("{} (the events) is missing", base), base);
    }
    MappedEvents mapped;
    const auto add = [&](const boost::json::value& object, std::string pointer,
                         std::optional<std::size_t> index) -> std::optional<AdapterRefusal> {
      if (!object.is_object()) {
        return unprocessable(fmt::format("{} is not an event object", pointer), pointer);
      }
      auto built = EventBuilder(config_, request, body, object, std::move(pointer), index)
                       .build(settings_.platform);
      if (auto* refusal = std::get_if<AdapterRefusal>(&built)) return *refusal;
      if (auto& event = std::get<std::optional<boost::json::object>>(built)) {
        mapped.emplace_back(std::move(*event));
      }
      return std::nullopt;
    };
    if (const auto* array = events->if_array()) {
      for (std::size_t i = 0; i < array->size(); ++i) {
        if (auto refusal = add((*array)[i], fmt::format("{}/{}", base, i), i)) return *refusal;
      }
    } else if (auto refusal = add(*events, base, std::nullopt)) {
      return *refusal;
    }
    return mapped;
  }

 private:
  AdapterSettings settings_;
  MappingConfig config_;
};

}  // namespace

std::unique_ptr<Adapter> make_mapping_adapter(AdapterSettings settings, const YAML::Node& entry,
                                              const ConfigPosition& at,
                                              std::vector<std::string>& errors) {
  auto config = mapping::read_mapping_config(settings.name, entry, at, errors);
  if (!config) return nullptr;
  return std::make_unique<MappingAdapter>(std::move(settings), std::move(*config));
}

}  // namespace replywatch::adapters

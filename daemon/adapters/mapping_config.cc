#include "mapping_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace replywatch::adapters::mapping {
namespace {

constexpr std::array<std::string_view, 5> kEventTypes = {
    "buyer_message", "agent_message", "bot_message", "conversation_closed", "agent_status"};
constexpr std::array<std::string_view, 4> kRequiredFields = {"id", "shop", "type", "ts"};

class Reader {
 public:
  Reader(const std::string& name, const ConfigPosition& at, std::vector<std::string>& errors)
      : name_(name), at_(at), errors_(errors) {}

  void error(const YAML::Node& node, std::string_view key, std::string_view message) {
    errors_.push_back(
        fmt::format("{}: adapters[{}].{}: {}", at_(node.Mark()), name_, key, message));
  }

  std::optional<std::string> pointer(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar() || !is_json_pointer(node.Scalar())) {
      error(node, key, "must be a JSON Pointer (RFC 6901: \"\" or /a/b, ~0 for ~, ~1 for /)");
      return std::nullopt;
    }
    return node.Scalar();
  }

  // A table or fallback value: checked against the closed sets of `type` and `status`.
  std::optional<std::optional<std::string>> table_value(const YAML::Node& node,
                                                        const std::string& field,
                                                        const std::string& key) {
    if (node.IsNull()) return std::optional<std::string>{};
    if (!node.IsScalar()) {
      error(node, key, "must be a value, or ~ for \"no event\"");
      return std::nullopt;
    }
    if (!valid_value(node, field, key)) return std::nullopt;
    return std::optional<std::string>(node.Scalar());
  }

  bool valid_value(const YAML::Node& node, const std::string& field, const std::string& key) {
    const std::string& value = node.Scalar();
    if (field == "type" &&
        std::find(kEventTypes.begin(), kEventTypes.end(), value) == kEventTypes.end()) {
      error(node, key,
            fmt::format("\"{}\" is not an event type (buyer_message, agent_message, bot_message, "
                        "conversation_closed, agent_status)",
                        value));
      return false;
    }
    if (field == "status" && value != "online" && value != "offline") {
      error(node, key, fmt::format("\"{}\" is not online or offline", value));
      return false;
    }
    return true;
  }

  std::optional<FieldSource> field(const std::string& field, const YAML::Node& node) {
    const std::string key = "fields." + field;
    FieldSource source;
    if (node.IsScalar()) {
      if (field == "ts") {
        error(node, key, "a timestamp cannot be a constant: give {pointer: /...}");
        return std::nullopt;
      }
      if (!valid_value(node, field, key)) return std::nullopt;
      source.text = node.Scalar();
      return source;
    }
    if (!node.IsMap()) {
      error(node, key, "must be a constant or a mapping with pointer or body_pointer");
      return std::nullopt;
    }
    bool ok = true;
    int pointers = 0;
    for (const auto& item : node) {
      const std::string option = item.first.as<std::string>("");
      const std::string option_key = key + "." + option;
      const YAML::Node& value = item.second;
      if (option == "pointer" || option == "body_pointer") {
        ++pointers;
        const auto parsed = pointer(value, option_key);
        if (!parsed) {
          ok = false;
          continue;
        }
        source.text = *parsed;
        source.from = option == "pointer" ? FieldSource::From::kEventPointer
                                          : FieldSource::From::kBodyPointer;
      } else if ((option == "received" && field == "ts") ||
                 (option == "body_digest" && field == "id")) {
        ++pointers;
        if (!value.IsScalar() || value.Scalar() != "true") {
          error(value, option_key, "must be true");
          ok = false;
          continue;
        }
        source.from =
            option == "received" ? FieldSource::From::kReceived : FieldSource::From::kBodyDigest;
      } else if (option == "prefix" && field != "ts") {
        if (!value.IsScalar()) {
          error(value, option_key, "must be a string");
          ok = false;
        } else {
          source.prefix = value.Scalar();
        }
      } else if (option == "values" && field != "ts") {
        source.has_table = true;
        if (!value.IsMap() || value.size() == 0) {
          error(value, option_key, "must be a mapping of found value to field value");
          ok = false;
          continue;
        }
        for (const auto& entry : value) {
          auto mapped = table_value(entry.second, field, option_key);
          if (!mapped) {
            ok = false;
            continue;
          }
          source.table[entry.first.as<std::string>("")] = *mapped;
        }
      } else if (option == "default" && field != "ts") {
        auto mapped = table_value(value, field, option_key);
        if (!mapped) {
          ok = false;
          continue;
        }
        source.fallback = *mapped;
      } else if (option == "format" && field == "ts") {
        const std::string format = value.IsScalar() ? value.Scalar() : "";
        if (format == "auto") {
          source.time_format = TimeFormat::kAuto;
        } else if (format == "rfc3339") {
          source.time_format = TimeFormat::kRfc3339;
        } else if (format == "epoch_s") {
          source.time_format = TimeFormat::kEpochSeconds;
        } else if (format == "epoch_ms") {
          source.time_format = TimeFormat::kEpochMillis;
        } else {
          error(value, option_key, "must be auto, rfc3339, epoch_s or epoch_ms");
          ok = false;
        }
      } else {
        error(item.first, option_key,
              field == "ts"   ? "unknown key (known: pointer, body_pointer, received, format)"
              : field == "id" ? "unknown key (known: pointer, body_pointer, body_digest, prefix, "
                                "values, default)"
                              : "unknown key (known: pointer, body_pointer, prefix, values, "
                                "default)");
        ok = false;
      }
    }
    if (pointers != 1) {
      error(node, key,
            field == "ts"   ? "needs exactly one of pointer, body_pointer and received"
            : field == "id" ? "needs exactly one of pointer, body_pointer and body_digest"
                            : "needs exactly one of pointer and body_pointer");
      return std::nullopt;
    }
    if (source.fallback && !source.has_table) {
      error(node, key, "default needs values");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return source;
  }

 private:
  const std::string& name_;
  const ConfigPosition& at_;
  std::vector<std::string>& errors_;
};

}  // namespace

bool is_json_pointer(std::string_view text) {
  if (text.empty()) return true;
  if (text.front() != '/') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '~' && (i + 1 == text.size() || (text[i + 1] != '0' && text[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

std::optional<MappingConfig> read_mapping_config(const std::string& adapter_name,
                                                 const YAML::Node& entry, const ConfigPosition& at,
                                                 std::vector<std::string>& errors) {
  const std::size_t errors_before = errors.size();
  Reader reader(adapter_name, at, errors);
  MappingConfig config;
  std::optional<YAML::Node> fields;
  for (const auto& item : entry) {
    const std::string key = item.first.as<std::string>("");
    if (is_common_adapter_key(key)) continue;
    const YAML::Node& value = item.second;
    if (key == "auth") {
      const std::string auth = value.IsScalar() ? value.Scalar() : "";
      if (auth == "signature") {
        config.auth = Auth::kSignature;
      } else if (auth == "bearer") {
        config.auth = Auth::kBearer;
      } else {
        reader.error(value, key, "must be signature or bearer");
      }
    } else if (key == "events") {
      if (auto pointer = reader.pointer(value, key)) config.events_pointer = *pointer;
    } else if (key == "fields") {
      fields = value;
    } else {
      reader.error(item.first, key,
                   "unknown key for kind mapping (its own keys: auth, events, fields)");
    }
  }
  if (!fields || !fields->IsMap()) {
    reader.error(fields ? *fields : entry, "fields",
                 "a mapping adapter needs fields: a mapping from event field to its source");
    return std::nullopt;
  }
  for (const auto& item : *fields) {
    const std::string field = item.first.as<std::string>("");
    if (std::find(kMappedFields.begin(), kMappedFields.end(), field) == kMappedFields.end()) {
      reader.error(item.first, "fields." + field,
                   "not an event field (id, platform, shop, conversation, type, ts, bot, agent, "
                   "status, channel)");
      continue;
    }
    if (auto source = reader.field(field, item.second)) config.fields[field] = std::move(*source);
  }
  // Fields that failed to read are reported already; only the ones never given are missing.
  const bool fields_read = errors.size() == errors_before;
  for (std::string_view required : kRequiredFields) {
    if (!config.fields.contains(required) && fields_read) {
      reader.error(*fields, fmt::format("fields.{}", required),
                   "missing: every mapping gives id, shop, type and ts");
    }
  }
  if (errors.size() != errors_before) return std::nullopt;
  return config;
}

}  // namespace replywatch::adapters::mapping

// The `kind: mapping` adapter's own config (docs/adapters.md, "Mapping"): where a body's events
// are, and where each event field comes from.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter_factory.h"

namespace replywatch::adapters::mapping {

enum class Auth : std::uint8_t { kSignature, kBearer };

// How a timestamp's value is read: by its JSON type (RFC 3339 strings; numbers below 10^11 as
// epoch seconds, larger as epoch milliseconds), or always one way.
enum class TimeFormat : std::uint8_t { kAuto, kRfc3339, kEpochSeconds, kEpochMillis };

// One event field: a constant, or a value found by a JSON Pointer into the event's object
// (`pointer`) or into the whole body (`body_pointer`), optionally translated by a table.
struct FieldSource {
  // kReceived (ts only): when replywatch received the request, for senders whose bodies carry
  // no time. kBodyDigest (id only): a digest of the raw body, for senders with no message id
  // (a retry repeats the body byte for byte).
  enum class From : std::uint8_t { kConstant, kEventPointer, kBodyPointer, kReceived, kBodyDigest };
  From from = From::kConstant;
  std::string text;    // the constant or the pointer
  std::string prefix;  // put before the value (e.g. "fd:" before a Freshdesk ticket id)
  // Value table: what was found -> the field's value; a null value means "this object tells
  // of no event". A value not in the table takes `fallback`, or is refused when there is none.
  std::map<std::string, std::optional<std::string>> table;
  bool has_table = false;
  std::optional<std::optional<std::string>> fallback;
  TimeFormat time_format = TimeFormat::kAuto;
};

// The event fields (docs/events.md) a mapping may fill, in the order the docs list them.
inline constexpr std::array<std::string_view, 10> kMappedFields = {
    "id", "platform", "shop", "conversation", "type", "ts", "bot", "agent", "status", "channel"};

struct MappingConfig {
  Auth auth = Auth::kSignature;
  std::string events_pointer;  // "" is the whole body
  std::map<std::string, FieldSource, std::less<>> fields;
};

// Reads the kind's keys (auth, events, fields) of one `adapters:` entry; the common keys are
// skipped. Errors are appended as "FILE:LINE:COL: adapters[NAME].KEY: message".
std::optional<MappingConfig> read_mapping_config(const std::string& adapter_name,
                                                 const YAML::Node& entry, const ConfigPosition& at,
                                                 std::vector<std::string>& errors);

// RFC 6901 syntax: "" or "/"-separated tokens in which "~" is followed by 0 or 1.
bool is_json_pointer(std::string_view text);

}  // namespace replywatch::adapters::mapping

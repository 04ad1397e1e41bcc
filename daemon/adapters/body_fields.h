// Reading help-desk webhook bodies: JSON Pointer lookups (RFC 6901, Boost.JSON's own) and the
// conversions every adapter needs, with the refusal that names the pointer of what is wrong.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "adapter.h"
#include "replywatch/time.h"

namespace replywatch::adapters {

// The value at `pointer` under `root`; nothing when the path does not exist, the pointer is
// malformed, or the value is JSON null (absent and null mean the same to an adapter).
const boost::json::value* find_at(const boost::json::value& root, std::string_view pointer);

// An id as help desks send them: a non-empty string as is, or an integer (also a whole double
// below 2^53, as JavaScript producers write them) in decimal.
std::optional<std::string> id_text(const boost::json::value& value);

// A reference token escaped for a pointer: "~" as "~0", "/" as "~1".
std::string pointer_token(std::string_view token);

AdapterRefusal unprocessable(std::string reason, std::string pointer);

// The body parsed as JSON, or a 422 refusal for the whole body.
std::variant<boost::json::value, AdapterRefusal> parse_body(std::string_view body);

// Required fields: the value, or a 422 refusal naming `pointer` and what was expected.
std::variant<std::string, AdapterRefusal> required_id(const boost::json::value& root,
                                                      const std::string& pointer);
std::variant<std::string, AdapterRefusal> required_string(const boost::json::value& root,
                                                          const std::string& pointer);
std::variant<Instant, AdapterRefusal> required_rfc3339(const boost::json::value& root,
                                                       const std::string& pointer);

// ASCII lowercase, for enumerations help desks spell in either case.
std::string ascii_lower(std::string_view text);

}  // namespace replywatch::adapters

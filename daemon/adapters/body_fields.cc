#include "body_fields.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <cmath>

namespace replywatch::adapters {

const boost::json::value* find_at(const boost::json::value& root, std::string_view pointer) {
  boost::system::error_code ec;
  const boost::json::value* found = root.find_pointer(pointer, ec);
  if (ec || found == nullptr || found->is_null()) return nullptr;
  return found;
}

std::optional<std::string> id_text(const boost::json::value& value) {
  if (const auto* text = value.if_string()) {
    if (text->empty()) return std::nullopt;
    return std::string(*text);
  }
  if (const auto* number = value.if_int64()) return std::to_string(*number);
  if (const auto* number = value.if_uint64()) return std::to_string(*number);
  if (const auto* number = value.if_double()) {
    constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
    if (std::isfinite(*number) && std::floor(*number) == *number &&
        std::fabs(*number) < kExactIntegers) {
      return std::to_string(static_cast<std::int64_t>(*number));
    }
  }
  return std::nullopt;
}

std::string pointer_token(std::string_view token) {
  std::string escaped;
  escaped.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

AdapterRefusal unprocessable(std::string reason, std::string pointer) {
  return AdapterRefusal{AdapterRefusalKind::kUnprocessable, std::move(reason), std::move(pointer)};
}

std::variant<boost::json::value, AdapterRefusal> parse_body(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(body, ec);
  if (ec) return unprocessable(fmt::format("the body is not JSON ({})", ec.message()), "");
  return parsed;
}

std::variant<std::string, AdapterRefusal> required_id(const boost::json::value& root,
                                                      const std::string& pointer) {
  const boost::json::value* found = find_at(root, pointer);
  if (found == nullptr) return unprocessable(fmt::format("{} is missing", pointer), pointer);
  if (auto text = id_text(*found)) return *std::move(text);
  return unprocessable(fmt::format("{} is not an id (a non-empty string or an integer)", pointer),
                       pointer);
}

std::variant<std::string, AdapterRefusal> required_string(const boost::json::value& root,
                                                          const std::string& pointer) {
  const boost::json::value* found = find_at(root, pointer);
  if (found == nullptr) return unprocessable(fmt::format("{} is missing", pointer), pointer);
  if (const auto* text = found->if_string()) return std::string(*text);
  return unprocessable(fmt::format("{} is not a string", pointer), pointer);
}

std::variant<Instant, AdapterRefusal> required_rfc3339(const boost::json::value& root,
                                                       const std::string& pointer) {
  const boost::json::value* found = find_at(root, pointer);
  if (found == nullptr) return unprocessable(fmt::format("{} is missing", pointer), pointer);
  if (const auto* text = found->if_string()) {
    if (auto instant = parse_rfc3339(*text)) return *instant;
  }
  return unprocessable(fmt::format("{} is not an RFC 3339 timestamp", pointer), pointer);
}

std::string ascii_lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

}  // namespace replywatch::adapters

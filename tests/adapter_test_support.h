// Building adapters and requests in unit tests: a config entry from YAML text, headers from a
// list, the time as data.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adapter.h"
#include "adapter_factory.h"
#include "replywatch/time.h"

namespace replywatch::adapters::testing {

inline std::string config_position(const YAML::Mark& mark) {
  return fmt::format("adapters.yaml:{}:{}", mark.line + 1, mark.column + 1);
}

// Case-insensitive header names, as HTTP has them.
class TestRequest {
 public:
  TestRequest(std::string body, Instant now) : body_(std::move(body)), now_(now) {}

  TestRequest& header(std::string name, std::string value) {
    headers_[lower(name)] = std::move(value);
    return *this;
  }

  AdapterRequest request() const {
    return AdapterRequest{[this](std::string_view name) -> std::optional<std::string_view> {
                            auto found = headers_.find(lower(std::string(name)));
                            if (found == headers_.end()) return std::nullopt;
                            return std::string_view(found->second);
                          },
                          body_, now_};
  }

 private:
  static std::string lower(std::string text) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
  }

  std::string body_;
  Instant now_;
  std::map<std::string, std::string> headers_;
};

inline Instant at_time(std::string_view rfc3339) { return *parse_rfc3339(rfc3339); }

// The events of a body the adapter must accept; fails the test on a refusal.
inline boost::json::array events_of(const Adapter& adapter, const TestRequest& request) {
  auto result = adapter.map(request.request());
  if (auto* refusal = std::get_if<AdapterRefusal>(&result)) {
    FAIL("refused: " << refusal->reason << " at \"" << refusal->pointer << "\"");
  }
  return std::get<MappedEvents>(result);
}

inline AdapterRefusal refusal_of(const Adapter& adapter, const TestRequest& request) {
  auto result = adapter.map(request.request());
  if (auto* events = std::get_if<MappedEvents>(&result)) {
    FAIL("accepted: " << boost::json::serialize(*events));
  }
  return std::get<AdapterRefusal>(result);
}

inline boost::json::value json(std::string_view text) { return boost::json::parse(text); }

}  // namespace replywatch::adapters::testing

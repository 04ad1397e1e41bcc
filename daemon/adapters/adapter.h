// Help-desk adapters (docs/adapters.md): a help desk's own webhook body in, the events it tells
// of out. An adapter is pure: the same request always maps to the same events, and it reads no
// clock, file or socket (the time for a signature window and the secret are passed in).
//
// The events come out as JSON objects in the shape of POST /v1/events (docs/events.md), not as
// Event values: the ingest path decodes and validates them exactly as it does a JSON array body,
// so an adapter's event is rejected, counted and answered the same way as one posted directly.
#pragma once

#include <boost/json/array.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "replywatch/time.h"

namespace replywatch::adapters {

// Finds a request header by name, case-insensitively; nothing when absent. Keeps adapters free
// of the HTTP library.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

struct AdapterRequest {
  HeaderLookup header;
  std::string_view body;  // the raw bytes, exactly as signed
  Instant now{};          // the daemon's wall clock, for signature windows
};

enum class AdapterRefusalKind : std::uint8_t {
  kUnauthorized,   // 401: signature or token missing, stale or wrong
  kUnprocessable,  // 422: not this help desk's shape
};

struct AdapterRefusal {
  AdapterRefusalKind kind = AdapterRefusalKind::kUnprocessable;
  std::string reason;   // a sentence for the answer and the log
  std::string pointer;  // RFC 6901 pointer into the body to the problem; "" is the whole body
};

// Zero or more events in the shape of POST /v1/events, in the order they happened.
using MappedEvents = boost::json::array;

class Adapter {
 public:
  virtual ~Adapter() = default;

  // The config's `kind` (chatwoot, zendesk, mapping).
  virtual std::string_view kind() const = 0;

  // What can be checked from the header alone, before the body is read (request.body is
  // empty): a missing or stale signature header is refused at once, so unauthenticated bodies
  // are never buffered. Nothing by default; a refusal here is always kUnauthorized.
  virtual std::optional<AdapterRefusal> check_headers(const AdapterRequest& request) const {
    (void)request;
    return std::nullopt;
  }

  // Checks the help desk's own signature or token over the raw body; nothing when it holds.
  // Runs before map(); a refusal here is always kUnauthorized.
  virtual std::optional<AdapterRefusal> authenticate(const AdapterRequest& request) const = 0;

  // The body's events, or why the body is not this help desk's shape. A body that tells of
  // nothing replywatch counts (a private note, an event kind it ignores) maps to no events.
  virtual std::variant<MappedEvents, AdapterRefusal> map(const AdapterRequest& request) const = 0;
};

// What every adapter's config entry has (docs/adapters.md, "Configuration").
struct AdapterSettings {
  std::string name;      // the path segment of POST /v1/adapters/NAME: [a-z0-9_-]+, unique
  std::string kind;      // chatwoot | zendesk | mapping
  std::string platform;  // the `platform` of every event it maps
  // The secret read from `secret_file` (trailing newline removed); none only with `insecure`.
  std::optional<std::string> secret;
  bool insecure = false;
};

}  // namespace replywatch::adapters

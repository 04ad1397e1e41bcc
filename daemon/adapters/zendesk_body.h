// The two Zendesk body shapes, mapped to events (zendesk_adapter.cc decides which applies).
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <variant>

#include "adapter.h"
#include "replywatch/time.h"

namespace replywatch::adapters::zendesk {

struct MappingContext {
  const std::string& platform;
  const std::string& agent_channel;
  // X-Zendesk-Webhook-Signature-Timestamp when it is RFC 3339: when Zendesk sent the request.
  std::optional<Instant> sent_at;
};

// An event-subscription envelope ({"type": "zen:event-type:...", "account_id", "time", ...}).
std::variant<MappedEvents, AdapterRefusal> map_envelope(const boost::json::value& body,
                                                        const MappingContext& context);

// The trigger body of docs/adapters.md ({"event": "comment_added" | "status_changed",
// "account_id", "ticket": {...}, "comment": {...}}).
std::variant<MappedEvents, AdapterRefusal> map_trigger_body(const boost::json::value& body,
                                                            const MappingContext& context);

// {"id", "platform", "shop", "type", "ts"} with ts as RFC 3339 UTC milliseconds.
boost::json::object base_event(std::string id, const std::string& platform, const std::string& shop,
                               std::string_view type, Instant ts);

std::int64_t epoch_ms(Instant t);

// A public comment on a ticket, from either body shape.
struct PublicComment {
  std::string id;
  std::string ticket;
  std::optional<std::string> staff_author;  // the author's id when staff wrote it
};

// An agent message under the staff author's id, else a buyer message. The id is the comment's
// whichever shape carried it, so a comment delivered both ways counts once.
boost::json::object comment_event(const PublicComment& comment, const std::string& platform,
                                  const std::string& shop, Instant ts);

}  // namespace replywatch::adapters::zendesk

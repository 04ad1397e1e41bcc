// Zendesk (docs/adapters.md, "Zendesk"): event-subscription webhooks (ticket.comment_added,
// ticket.status_changed, agent.state_changed, messaging_ticket.message_added) and the trigger
// body the docs give, told apart by shape. Signed with X-Zendesk-Webhook-Signature.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapter_factory.h"

namespace replywatch::adapters {

// Kind-specific config: `agent_channel` (default `support`), the channel whose
// agent.state_changed events become agent_status. The common keys are in `settings` and are
// skipped here; any other key is an error "FILE:LINE:COL: message" appended to `errors`, and
// then the result is nullptr.
std::unique_ptr<Adapter> make_zendesk_adapter(AdapterSettings settings, const YAML::Node& entry,
                                              const ConfigPosition& at,
                                              std::vector<std::string>& errors);

// The signature Zendesk sends for `timestamp` and `body` under `secret`: base64 HMAC-SHA256 of
// timestamp + body. For tests and `replywatch adapt`'s examples.
std::string zendesk_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body);

}  // namespace replywatch::adapters

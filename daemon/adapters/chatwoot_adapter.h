// Chatwoot's account webhooks (docs/adapters.md, "Chatwoot"): message_created and
// conversation_status_changed bodies in, events (docs/events.md) out; everything else maps to
// nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "adapter.h"

namespace replywatch::adapters {

struct ChatwootOptions {
  // The account's id, for bodies without one (Chatwoot before `account` was added to
  // conversation events, with no message in the body either); a body naming another account
  // is refused, so a webhook URL cannot be pointed at the wrong shop by mistake.
  std::optional<std::string> account_id;
};

std::unique_ptr<Adapter> make_chatwoot(AdapterSettings settings, ChatwootOptions options);

}  // namespace replywatch::adapters

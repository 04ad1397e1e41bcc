#include "replywatch/rule_set.h"

#include <algorithm>

namespace replywatch {

std::string_view sla_kind_name(SlaKind kind) {
  switch (kind) {
    case SlaKind::kReplyTime:
      return "reply_time";
    case SlaKind::kAverageResponse:
      return "average_response";
    case SlaKind::kAgentPresence:
      return "agent_presence";
  }
  return "unknown";
}

const PlatformRules* RuleSet::find(std::string_view platform) const {
  const auto found = std::lower_bound(
      platforms.begin(), platforms.end(), platform,
      [](const PlatformRules& rules, std::string_view name) { return rules.platform < name; });
  if (found == platforms.end() || found->platform != platform) return nullptr;
  return &*found;
}

}  // namespace replywatch

// The adapter kinds the config may name. A kind added here is documented in docs/adapters.md.
#include "adapter_factory.h"
#include "mapping_adapter.h"
#include "zendesk_adapter.h"

namespace replywatch::adapters {
namespace {

constexpr std::array<AdapterKind, 3> kKinds = {{
    {"chatwoot", &make_chatwoot_adapter},
    {"mapping", &make_mapping_adapter},
    {"zendesk", &make_zendesk_adapter},
}};

}  // namespace

std::span<const AdapterKind> adapter_kinds() { return kKinds; }

}  // namespace replywatch::adapters

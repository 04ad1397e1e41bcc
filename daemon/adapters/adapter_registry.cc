// The adapter kinds the config may name. A kind added here is documented in docs/adapters.md.
#include "adapter_factory.h"

namespace replywatch::adapters {
namespace {

constexpr std::array<AdapterKind, 1> kKinds = {{
    {"chatwoot", &make_chatwoot_adapter},
}};

}  // namespace

std::span<const AdapterKind> adapter_kinds() { return kKinds; }

}  // namespace replywatch::adapters

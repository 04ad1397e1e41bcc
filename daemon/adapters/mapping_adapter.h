// The mapping adapter (docs/adapters.md, "Mapping"): for bridges and help desks without an
// adapter of their own (Douyin and Tmall message pushes, Freshdesk automation webhooks). The
// config says where a body's events are and where each field comes from; requests carry the
// POST /v1/events signature or a bearer token.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "adapter_factory.h"

namespace replywatch::adapters {

std::unique_ptr<Adapter> make_mapping_adapter(AdapterSettings settings, const YAML::Node& entry,
                                              const ConfigPosition& at,
                                              std::vector<std::string>& errors);

}  // namespace replywatch::adapters

// The `adapters:` list of the daemon's config file (docs/adapters.md, "Configuration"): each
// entry's common keys read here, its kind's own keys by that kind's factory
// (adapter_factory.h). Secrets are read when the config is, so a missing file stops the start.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter.h"
#include "adapter_factory.h"

namespace replywatch::adapters {

struct ConfiguredAdapter {
  std::string name;
  std::string kind;
  std::string platform;
  std::string platform_at;  // FILE:LINE:COL of `platform`, for the check against the rules
  bool insecure = false;
  std::unique_ptr<Adapter> adapter;
};

// The configured adapters, by name. Immutable once read; shared by the config's copies.
class AdapterSet {
 public:
  explicit AdapterSet(std::vector<ConfiguredAdapter> adapters) : adapters_(std::move(adapters)) {}

  const ConfiguredAdapter* find(std::string_view name) const;
  const std::vector<ConfiguredAdapter>& all() const { return adapters_; }
  bool empty() const { return adapters_.empty(); }

 private:
  std::vector<ConfiguredAdapter> adapters_;
};

// The keys every entry may have; docs/operations.md lists them.
std::span<const std::string_view> adapter_common_keys();

// Whether `name` may be a path segment: [a-z0-9_-]+.
bool valid_adapter_name(std::string_view name);

// Reads the list; every problem is appended as FILE:LINE:COL: message. Nothing when any entry
// had a problem.
std::shared_ptr<const AdapterSet> read_adapters(const YAML::Node& list, const ConfigPosition& at,
                                                std::vector<std::string>& errors);

// Every adapter whose platform `known` does not know, as FILE:LINE:COL: message.
std::vector<std::string> check_adapter_platforms(
    const AdapterSet& adapters, const std::function<bool(std::string_view)>& known);

}  // namespace replywatch::adapters

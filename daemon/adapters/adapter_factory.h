// How an adapter is built from its `adapters:` entry in the daemon's config (docs/adapters.md,
// "Configuration"). adapter_config.cc reads the keys every adapter has (name, kind, platform,
// secret_file, insecure) into AdapterSettings, then hands the entry to the factory of its kind.
//
// A factory reads only its kind's own keys: the common ones are already in `settings` and it
// skips them (kCommonAdapterKeys). Every other key it does not know is an error at that key's
// position. Errors are appended to `errors` as `at(mark) + ": " + message`, the message naming
// the adapter (e.g. `adapters[support].signature: ...`); a factory that appended an error
// returns nullptr, and one that returns nullptr has appended at least one.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapter.h"

namespace replywatch::adapters {

// FILE:LINE:COL of a place in the config file.
using ConfigPosition = std::function<std::string(const YAML::Mark&)>;

using AdapterFactory = std::unique_ptr<Adapter> (*)(AdapterSettings settings,
                                                    const YAML::Node& entry,
                                                    const ConfigPosition& at,
                                                    std::vector<std::string>& errors);

// Keys of every entry, read by adapter_config.cc; a factory ignores them.
inline constexpr std::array<std::string_view, 5> kCommonAdapterKeys = {"name", "kind", "platform",
                                                                       "secret_file", "insecure"};

inline bool is_common_adapter_key(std::string_view key) {
  for (const std::string_view common : kCommonAdapterKeys) {
    if (key == common) return true;
  }
  return false;
}

// One per kind (adapter_registry.cc lists them):
//   std::unique_ptr<Adapter> make_KIND_adapter(AdapterSettings settings, const YAML::Node& entry,
//       const std::function<std::string(const YAML::Mark&)>& at,
//       std::vector<std::string>& errors);
std::unique_ptr<Adapter> make_chatwoot_adapter(AdapterSettings settings, const YAML::Node& entry,
                                               const ConfigPosition& at,
                                               std::vector<std::string>& errors);

// A kind the config may name, and how it is built.
struct AdapterKind {
  std::string_view name;
  AdapterFactory factory;
};

// Every kind, in the order docs/adapters.md lists them (adapter_registry.cc).
std::span<const AdapterKind> adapter_kinds();

}  // namespace replywatch::adapters

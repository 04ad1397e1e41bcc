#include "adapter_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>

#include "hmac.h"

namespace replywatch::adapters {
namespace {

std::string known_kinds() {
  std::string names;
  for (const AdapterKind& kind : adapter_kinds()) {
    names += (names.empty() ? "" : ", ") + std::string(kind.name);
  }
  return names;
}

const AdapterFactory* factory_of(std::string_view kind) {
  for (const AdapterKind& known : adapter_kinds()) {
    if (known.name == kind) return &known.factory;
  }
  return nullptr;
}

// One entry's common keys into `settings`; false after appending an error.
bool read_common(const YAML::Node& entry, std::size_t index, const ConfigPosition& at,
                 AdapterSettings& settings, ConfiguredAdapter& configured,
                 std::vector<std::string>& errors) {
  const std::size_t before = errors.size();
  auto scalar = [&](const char* key) -> std::optional<std::string> {
    const YAML::Node value = entry[key];
    if (!value) return std::nullopt;
    if (!value.IsScalar() || value.Scalar().empty()) {
      errors.push_back(fmt::format("{}: adapters[{}].{}: must be a single non-empty value",
                                   at(value.Mark()), index, key));
      return std::nullopt;
    }
    return value.Scalar();
  };
  const auto name = scalar("name");
  if (!name) {
    if (!entry["name"]) {
      errors.push_back(
          fmt::format("{}: adapters[{}]: name is required (the path segment of "
                      "POST /v1/adapters/NAME)",
                      at(entry.Mark()), index));
    }
  } else if (!valid_adapter_name(*name)) {
    errors.push_back(fmt::format("{}: adapters[{}].name: \"{}\" is not [a-z0-9_-]+",
                                 at(entry["name"].Mark()), index, *name));
  } else {
    settings.name = *name;
  }
  const std::string label = settings.name.empty() ? std::to_string(index) : settings.name;
  const auto kind = scalar("kind");
  if (!kind) {
    if (!entry["kind"]) {
      errors.push_back(fmt::format("{}: adapters[{}]: kind is required ({})", at(entry.Mark()),
                                   label, known_kinds()));
    }
  } else if (factory_of(*kind) == nullptr) {
    errors.push_back(fmt::format("{}: adapters[{}].kind: unknown kind \"{}\" (known: {})",
                                 at(entry["kind"].Mark()), label, *kind, known_kinds()));
  } else {
    settings.kind = *kind;
  }
  const auto platform = scalar("platform");
  if (!platform) {
    if (!entry["platform"]) {
      errors.push_back(
          fmt::format("{}: adapters[{}]: platform is required (a rule file's "
                      "platform)",
                      at(entry.Mark()), label));
    }
  } else {
    settings.platform = *platform;
    configured.platform_at = at(entry["platform"].Mark());
  }
  if (const YAML::Node insecure = entry["insecure"]) {
    if (!insecure.IsScalar() || (insecure.Scalar() != "true" && insecure.Scalar() != "false")) {
      errors.push_back(fmt::format("{}: adapters[{}].insecure: must be true or false",
                                   at(insecure.Mark()), label));
    } else {
      settings.insecure = insecure.Scalar() == "true";
    }
  }
  const auto secret_file = scalar("secret_file");
  if (secret_file && settings.insecure) {
    errors.push_back(
        fmt::format("{}: adapters[{}]: secret_file and insecure: true exclude each "
                    "other",
                    at(entry["secret_file"].Mark()), label));
  } else if (secret_file) {
    std::string problem;
    settings.secret = read_secret_file(*secret_file, problem);
    if (!settings.secret) {
      errors.push_back(fmt::format("{}: adapters[{}].secret_file: {}",
                                   at(entry["secret_file"].Mark()), label, problem));
    }
  } else if (!entry["secret_file"] && !settings.insecure) {
    errors.push_back(
        fmt::format("{}: adapters[{}]: secret_file is required (or insecure: true "
                    "when something in front of replywatch authenticates requests)",
                    at(entry.Mark()), label));
  }
  return errors.size() == before;
}

}  // namespace

const ConfiguredAdapter* AdapterSet::find(std::string_view name) const {
  for (const ConfiguredAdapter& adapter : adapters_) {
    if (adapter.name == name) return &adapter;
  }
  return nullptr;
}

std::span<const std::string_view> adapter_common_keys() { return kCommonAdapterKeys; }

bool valid_adapter_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::shared_ptr<const AdapterSet> read_adapters(const YAML::Node& list, const ConfigPosition& at,
                                                std::vector<std::string>& errors) {
  if (list.IsNull()) return std::make_shared<AdapterSet>(std::vector<ConfiguredAdapter>{});
  if (!list.IsSequence()) {
    errors.push_back(
        fmt::format("{}: adapters must be a list of mappings (name, kind, platform, "
                    "secret_file)",
                    at(list.Mark())));
    return nullptr;
  }
  const std::size_t before = errors.size();
  std::vector<ConfiguredAdapter> adapters;
  std::set<std::string> names;
  std::size_t index = 0;
  for (const YAML::Node& entry : list) {
    const std::size_t this_index = index++;
    if (!entry.IsMap()) {
      errors.push_back(
          fmt::format("{}: adapters[{}]: must be a mapping", at(entry.Mark()), this_index));
      continue;
    }
    AdapterSettings settings;
    ConfiguredAdapter configured;
    if (!read_common(entry, this_index, at, settings, configured, errors)) continue;
    if (!names.insert(settings.name).second) {
      errors.push_back(fmt::format("{}: adapters[{}].name: another adapter has this name",
                                   at(entry["name"].Mark()), settings.name));
      continue;
    }
    configured.name = settings.name;
    configured.kind = settings.kind;
    configured.platform = settings.platform;
    configured.insecure = settings.insecure;
    configured.adapter = (*factory_of(settings.kind))(std::move(settings), entry, at, errors);
    if (configured.adapter) adapters.push_back(std::move(configured));
  }
  if (errors.size() != before) return nullptr;
  return std::make_shared<AdapterSet>(std::move(adapters));
}

std::vector<std::string> check_adapter_platforms(
    const AdapterSet& adapters, const std::function<bool(std::string_view)>& known) {
  std::vector<std::string> problems;
  for (const ConfiguredAdapter& adapter : adapters.all()) {
    if (!known(adapter.platform)) {
      problems.push_back(
          fmt::format("{}: adapters[{}].platform: no loaded rule file has platform "
                      "\"{}\"",
                      adapter.platform_at, adapter.name, adapter.platform));
    }
  }
  return problems;
}

}  // namespace replywatch::adapters

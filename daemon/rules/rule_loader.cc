// Rule files: a directory of YAML files in, a validated RuleSet or every error with
// its position out. This file is the directory walk and the cross-file checks; what a file may
// hold is the schema (platform_schema.h and the files it uses), and how a YAML value is checked
// with positions is yaml_checker.h.

#include "replywatch/rule_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "platform_schema.h"

namespace replywatch {
namespace {

using rules::check_rule_file;
using rules::FileOutcome;

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

void sort_by_position(std::vector<RuleError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const RuleError& a, const RuleError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

bool is_rule_file_name(const std::string& name) {
  // Like the shell glob *.yaml: hidden files (editor backups, lock files) are not rule files.
  if (name.empty() || name.front() == '.') return false;
  const std::string_view view(name);
  return (view.size() > 5 && view.ends_with(".yaml")) ||
         (view.size() > 4 && view.ends_with(".yml"));
}

std::optional<std::string> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(contents).str();
}

}  // namespace

std::string RuleError::to_string() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

RuleLoadResult load_rule_text(std::string_view text, const std::string& file) {
  FileOutcome outcome = check_rule_file(file, text);
  RuleLoadResult result;
  sort_by_position(outcome.errors);
  result.errors = std::move(outcome.errors);
  if (result.errors.empty() && outcome.rules) {
    result.rules.platforms.push_back(std::move(*outcome.rules));
  }
  return result;
}

RuleLoadResult load_rule_directory(const std::string& directory) {
  namespace fs = std::filesystem;
  RuleLoadResult result;
  const auto directory_error = [&](std::string message) {
    result.errors.push_back({directory, 0, 0, std::move(message)});
  };

  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(directory, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (is_rule_file_name(name) && it->is_regular_file(type_ec)) names.push_back(std::move(name));
  }
  if (ec) {
    directory_error(fmt::format("cannot read rules directory: {}", lowercase(ec.message())));
    return result;
  }
  if (names.empty()) {
    directory_error("no rule files (*.yaml or *.yml) in the rules directory");
    return result;
  }
  std::sort(names.begin(), names.end());

  std::map<std::string, std::string, std::less<>> file_of_platform;
  for (const std::string& name : names) {
    const std::string path = (fs::path(directory) / name).string();
    const std::optional<std::string> text = read_whole_file(fs::path(directory) / name);
    if (!text) {
      result.errors.push_back({path, 0, 0, "cannot read rule file"});
      continue;
    }
    FileOutcome outcome = check_rule_file(path, *text);
    if (outcome.platform) {
      const auto [found, inserted] = file_of_platform.emplace(*outcome.platform, path);
      if (!inserted) {
        outcome.errors.push_back({path, outcome.platform_at.line, outcome.platform_at.column,
                                  fmt::format("platform \"{}\" is already defined in {}",
                                              *outcome.platform, found->second)});
        outcome.rules.reset();
      }
    }
    sort_by_position(outcome.errors);
    result.errors.insert(result.errors.end(), std::make_move_iterator(outcome.errors.begin()),
                         std::make_move_iterator(outcome.errors.end()));
    if (outcome.rules) result.rules.platforms.push_back(std::move(*outcome.rules));
  }

  if (!result.errors.empty()) {
    result.rules.platforms.clear();
    return result;
  }
  std::sort(result.rules.platforms.begin(), result.rules.platforms.end(),
            [](const PlatformRules& a, const PlatformRules& b) { return a.platform < b.platform; });
  return result;
}

}  // namespace replywatch

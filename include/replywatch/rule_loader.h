// Loads every rule file of a directory (docs/rules.md), all or nothing.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "replywatch/rule_set.h"

namespace replywatch {

struct RuleError {
  std::string file;
  int line = 0;    // 1-based; 0 when the error is about the file as a whole
  int column = 0;  // 1-based
  std::string message;

  // FILE:LINE:COL: message
  std::string to_string() const;
};

struct RuleLoadResult {
  RuleSet rules;                  // meaningful only when errors is empty
  std::vector<RuleError> errors;  // every error of every file, files in name order

  bool ok() const { return errors.empty(); }
};

// A rule file beyond this size is an error (a reload parses every file; bounded work).
inline constexpr std::size_t kMaxRuleFileBytes = std::size_t{1} << 20;

// Reads every *.yaml and *.yml file directly inside `directory`, in name order.
RuleLoadResult load_rule_directory(const std::string& directory);

// Parses one file's text; `file` is used for positions. Cross-file checks (unique platform) are
// done by load_rule_directory.
RuleLoadResult load_rule_text(std::string_view text, const std::string& file);

}  // namespace replywatch

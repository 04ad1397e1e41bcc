// A whole rule file: one platform's rules (the file's top level), checked from its text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replywatch/rule_loader.h"
#include "replywatch/rule_set.h"

namespace replywatch::rules {

// What one file yields: its rules when it has no errors, and its platform name and position
// whenever that value alone is valid, for the cross-file uniqueness check.
struct FileOutcome {
  std::optional<PlatformRules> rules;
  std::optional<std::string> platform;
  SourcePosition platform_at;
  std::vector<RuleError> errors;  // in the order found
};

// Never throws: whatever the text holds, problems come back as errors.
FileOutcome check_rule_file(const std::string& file, std::string_view text);

}  // namespace replywatch::rules

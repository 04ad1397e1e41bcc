// The `service_hours` section of a rule file: weekly entries and dated overrides.
#pragma once

#include <optional>

#include "replywatch/rule_set.h"
#include "yaml_checker.h"

namespace replywatch::rules {

// Overrides come back sorted by date; every problem is reported through `checker`.
std::optional<ServiceHoursSpec> check_service_hours(YamlChecker& checker, const Field& field);

}  // namespace replywatch::rules

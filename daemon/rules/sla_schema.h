// One entry of a rule file's `slas` list: its name, kind and the settings of that kind.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "replywatch/rule_set.h"
#include "yaml_checker.h"

namespace replywatch::rules {

struct SlaContext {
  bool file_has_service_hours = false;
  std::set<std::string>* seen_names = nullptr;  // SLA names of the file so far
};

// Every problem is reported through `checker`; a key of another kind is an error.
std::optional<Sla> check_sla(YamlChecker& checker, const Field& field, const SlaContext& context);

}  // namespace replywatch::rules

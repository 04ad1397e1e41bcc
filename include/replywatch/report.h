// The replay report (docs/operations.md, replay): JSON for machines, an aligned table for people.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "replywatch/engine.h"

namespace replywatch {

struct ReplayReport {
  Instant until{};
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::uint64_t late = 0;
  std::vector<SlaFigures> slas;
};

// One JSON object, fields in the documented order, followed by a newline.
std::string format_report_json(const ReplayReport& report);

// Aligned columns with human units; violating rows are marked.
std::string format_report_table(const ReplayReport& report);

// A double as JSON that keeps every significant digit and always reads back as a float.
std::string format_json_double(double value);

}  // namespace replywatch

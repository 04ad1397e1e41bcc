// The daemon's roles on a shared stream (`log.kind: jetstream`): whether it takes webhooks
// (`ingest`) and which partitions' events it applies to its engine (`consume`). Config file keys
// (docs/operations.md):
//
//   ingest: true          # default
//   consume: all          # all (default) | none | a list of partitions and ranges: [0-7, 12]
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
class Mark;
}  // namespace YAML

namespace replywatch::jetstream {

// first..last, both included, as written in the file.
struct PartitionRange {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  std::string where;  // FILE:LINE:COL of the item, for problems found once the count is known
};

struct ConsumeConfig {
  enum class Mode : std::uint8_t { kAll, kNone, kList };
  Mode mode = Mode::kAll;
  std::vector<PartitionRange> ranges;  // kList: sorted, without overlaps

  // The consumed partitions of a stream of `partition_count`, ascending.
  std::vector<std::uint32_t> partitions(std::uint32_t partition_count) const;
  bool consumes_any() const { return mode != Mode::kNone; }
  // "all", "none", or the list as "0-7,12".
  std::string to_string() const;
};

using MarkFormatter = std::function<std::string(const YAML::Mark&)>;

// Reads the value of the `ingest` or the `consume` key; each problem is appended to `errors`
// as FILE:LINE:COL: message, and the value is left unchanged then.
void read_ingest(const YAML::Node& value, bool& ingest, const MarkFormatter& at,
                 std::vector<std::string>& errors);
void read_consume(const YAML::Node& value, ConsumeConfig& consume, const MarkFormatter& at,
                  std::vector<std::string>& errors);

// Partitions the list names that a stream of `partition_count` does not have.
std::vector<std::string> consume_problems(const ConsumeConfig& consume,
                                          std::uint32_t partition_count);

}  // namespace replywatch::jetstream

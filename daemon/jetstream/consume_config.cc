#include "consume_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace replywatch::jetstream {
namespace {

// Partition numbers far beyond any stream (JetStream subjects are cheap, but a million
// partitions is a typing error); the real bound is log.partitions, checked afterwards.
constexpr std::uint32_t kMaxPartitionNumber = 1'000'000;

std::optional<std::uint32_t> parse_partition(std::string_view text) {
  std::uint32_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > kMaxPartitionNumber) {
    return std::nullopt;
  }
  return value;
}

// "12" or "0-7".
std::optional<PartitionRange> parse_range(std::string_view text, std::string& problem) {
  const std::size_t dash = text.find('-');
  const std::string_view first_text = text.substr(0, dash);
  const std::string_view last_text =
      dash == std::string_view::npos ? first_text : text.substr(dash + 1);
  const auto first = parse_partition(first_text);
  const auto last = parse_partition(last_text);
  if (!first || !last) {
    problem = fmt::format(
        "\"{}\" is not a partition number or a range of them like 0-7 (numbers from 0)", text);
    return std::nullopt;
  }
  if (*last < *first) {
    problem = fmt::format("the range {} is reversed (write {}-{})", text, *last, *first);
    return std::nullopt;
  }
  return PartitionRange{*first, *last, {}};
}

std::string range_text(const PartitionRange& range) {
  return range.first == range.last ? fmt::format("{}", range.first)
                                   : fmt::format("{}-{}", range.first, range.last);
}

}  // namespace

std::vector<std::uint32_t> ConsumeConfig::partitions(std::uint32_t partition_count) const {
  std::vector<std::uint32_t> out;
  if (mode == Mode::kAll) {
    for (std::uint32_t p = 0; p < partition_count; ++p) out.push_back(p);
  } else if (mode == Mode::kList) {
    for (const PartitionRange& range : ranges) {
      for (std::uint32_t p = range.first; p <= range.last && p < partition_count; ++p) {
        out.push_back(p);
      }
    }
  }
  return out;
}

std::string ConsumeConfig::to_string() const {
  if (mode == Mode::kAll) return "all";
  if (mode == Mode::kNone) return "none";
  std::string out;
  for (const PartitionRange& range : ranges) {
    if (!out.empty()) out += ',';
    out += range_text(range);
  }
  return out;
}

void read_ingest(const YAML::Node& value, bool& ingest, const MarkFormatter& at,
                 std::vector<std::string>& errors) {
  if (value.IsScalar() && (value.Scalar() == "true" || value.Scalar() == "false")) {
    ingest = value.Scalar() == "true";
    return;
  }
  errors.push_back(fmt::format("{}: ingest must be true or false", at(value.Mark())));
}

void read_consume(const YAML::Node& value, ConsumeConfig& consume, const MarkFormatter& at,
                  std::vector<std::string>& errors) {
  if (value.IsScalar() && (value.Scalar() == "all" || value.Scalar() == "none")) {
    consume = ConsumeConfig{};
    consume.mode = value.Scalar() == "all" ? ConsumeConfig::Mode::kAll : ConsumeConfig::Mode::kNone;
    return;
  }
  if (!value.IsSequence() || value.size() == 0) {
    errors.push_back(fmt::format(
        "{}: consume must be all, none, or a non-empty list of partitions and ranges like "
        "[0-7, 12]",
        at(value.Mark())));
    return;
  }
  ConsumeConfig read;
  read.mode = ConsumeConfig::Mode::kList;
  const std::size_t errors_before = errors.size();
  for (const YAML::Node& item : value) {
    std::string problem;
    std::optional<PartitionRange> range;
    if (!item.IsScalar()) {
      problem = "a partition number or a range like 0-7 is expected here";
    } else {
      range = parse_range(item.Scalar(), problem);
    }
    if (!range) {
      errors.push_back(fmt::format("{}: consume: {}", at(item.Mark()), problem));
      continue;
    }
    range->where = at(item.Mark());
    read.ranges.push_back(std::move(*range));
  }
  std::stable_sort(
      read.ranges.begin(), read.ranges.end(),
      [](const PartitionRange& a, const PartitionRange& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < read.ranges.size(); ++i) {
    const PartitionRange& before = read.ranges[i - 1];
    const PartitionRange& range = read.ranges[i];
    if (range.first <= before.last) {
      // A partition named twice is almost always a typing error in a longer list: say which.
      errors.push_back(fmt::format("{}: consume: {} overlaps {} (at {})", range.where,
                                   range_text(range), range_text(before), before.where));
    }
  }
  if (errors.size() == errors_before) consume = std::move(read);
}

std::vector<std::string> consume_problems(const ConsumeConfig& consume,
                                          std::uint32_t partition_count) {
  std::vector<std::string> problems;
  if (consume.mode != ConsumeConfig::Mode::kList) return problems;
  for (const PartitionRange& range : consume.ranges) {
    if (range.last >= partition_count) {
      problems.push_back(
          fmt::format("{}: consume: partition {} does not exist: the stream has log.partitions {} "
                      "(partitions 0 to {})",
                      range.where, range.last, partition_count, partition_count - 1));
    }
  }
  return problems;
}

}  // namespace replywatch::jetstream

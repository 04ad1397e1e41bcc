#include "yaml_checker.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace replywatch::rules {
namespace {

// Key lists up to this long are spelled out in "unknown key" messages to help with typos; an
// SLA's sixteen would drown the message.
constexpr std::size_t kMaxSpelledOutKeys = 7;

// Sees the start of each document and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::string in_quotes(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  std::size_t shown = std::min(text.size(), kMaxShown);
  // Never cut a UTF-8 sequence in half.
  while (shown > 0 && shown < text.size() &&
         (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) {
    --shown;
  }
  std::string out = "\"";
  for (const char c : text.substr(0, shown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(byte));
    } else {
      out += c;
    }
  }
  if (shown < text.size()) out += "...";
  out += '"';
  return out;
}

std::string join_choices(std::span<const std::string_view> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return in_quotes(node.Scalar());
    default:
      return "nothing";
  }
}

SourcePosition position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

Field Entry::field() const {
  const SourcePosition value_at = position_of(value.Mark());
  const bool use_key = value.IsNull() || value_at.line == 0;
  return {key, value, use_key ? key_at : value_at};
}

const Entry* Mapping::find(std::string_view key) const {
  for (const Entry& entry : entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

void YamlChecker::report(SourcePosition at, std::string message) {
  errors_.push_back({file_, at.line, at.column, std::move(message)});
}

std::vector<YAML::Mark> document_starts(std::string_view text, std::size_t at_most) {
  std::istringstream stream{std::string(text)};
  YAML::Parser parser(stream);
  DocumentStarts starts;
  while (starts.marks.size() < at_most && parser.HandleNextDocument(starts)) {
  }
  return std::move(starts.marks);
}

// Documents are counted first, so that a text yaml-cpp cannot load in finite time is refused.
std::optional<YAML::Node> YamlChecker::only_document(std::string_view text,
                                                     std::string_view empty_message) {
  const std::string input(text);
  const std::vector<YAML::Mark> marks = document_starts(input, 2);
  if (marks.empty()) {
    report({}, std::string(empty_message));
    return std::nullopt;
  }
  if (marks.size() > 1) {
    const YAML::Mark& second = marks[1];
    if (second.pos == marks[0].pos) {
      const char stuck_at = second.pos >= 0 && static_cast<std::size_t>(second.pos) < input.size()
                                ? input[second.pos]
                                : ' ';
      report(position_of(second),
             fmt::format("invalid yaml: unexpected {}", in_quotes(std::string_view(&stuck_at, 1))));
    } else {
      report(position_of(second), "a rule file holds one yaml document, found a second one");
    }
    return std::nullopt;
  }
  YAML::Node document = YAML::Load(input);
  if (document.IsNull()) {
    report({}, std::string(empty_message));
    return std::nullopt;
  }
  return document;
}

std::optional<Mapping> YamlChecker::mapping(const Field& field,
                                            std::span<const std::string_view> known) {
  if (!field.node.IsMap()) {
    report(field.at,
           fmt::format("{} must be a mapping, got {}", field.subject, describe(field.node)));
    return std::nullopt;
  }
  Mapping result{field.at, {}};
  for (const auto& pair : field.node) {
    const SourcePosition key_at = position_of(pair.first.Mark());
    if (!pair.first.IsScalar()) {
      report(key_at, fmt::format("keys must be plain names, got {}", describe(pair.first)));
      continue;
    }
    const std::string& key = pair.first.Scalar();
    if (result.find(key) != nullptr) {
      report(key_at, fmt::format("duplicate key {}", in_quotes(key)));
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      if (known.size() <= kMaxSpelledOutKeys) {
        report(key_at,
               fmt::format("unknown key {}, expected {}", in_quotes(key), join_choices(known)));
      } else {
        report(key_at, fmt::format("unknown key {}", in_quotes(key)));
      }
      continue;
    }
    result.entries.push_back({key, key_at, pair.second});
  }
  return result;
}

std::optional<Field> YamlChecker::required(const Mapping& map, std::string_view key) {
  const Entry* entry = map.find(key);
  if (entry == nullptr) {
    report(map.at, fmt::format("missing key \"{}\"", key));
    return std::nullopt;
  }
  return entry->field();
}

std::optional<std::vector<Field>> YamlChecker::list(const Field& field,
                                                    std::string_view item_subject) {
  if (!field.node.IsSequence()) {
    report(field.at, fmt::format("{} must be a list, got {}", field.subject, describe(field.node)));
    return std::nullopt;
  }
  std::vector<Field> items;
  for (const YAML::Node& item : field.node) {
    const SourcePosition at = position_of(item.Mark());
    items.push_back({std::string(item_subject), item, at.line == 0 ? field.at : at});
  }
  return items;
}

std::optional<std::string> YamlChecker::scalar(const Field& field, std::string_view expected) {
  if (!field.node.IsScalar()) {
    report(field.at,
           fmt::format("{} must be {}, got {}", field.subject, expected, describe(field.node)));
    return std::nullopt;
  }
  return field.node.Scalar();
}

std::optional<Duration> YamlChecker::duration(const Field& field, bool must_be_positive) {
  const std::optional<std::string> text = scalar(field, "a duration like 3m");
  if (!text) return std::nullopt;
  const std::optional<Duration> value = parse_duration(*text);
  if (!value) {
    report(field.at,
           fmt::format("bad duration {}, expected an integer followed by ms, s, m, h or d",
                       in_quotes(*text)));
    return std::nullopt;
  }
  if (must_be_positive && *value == Duration(0)) {
    report(field.at, fmt::format("{} must be greater than 0", field.subject));
    return std::nullopt;
  }
  return value;
}

std::optional<ParsedDuration> YamlChecker::duration_with_text(const Field& field,
                                                              bool must_be_positive) {
  const std::optional<Duration> value = duration(field, must_be_positive);
  if (!value) return std::nullopt;
  return ParsedDuration{*value, field.node.Scalar(), field.at};
}

std::optional<std::uint32_t> YamlChecker::count_at_least_one(const Field& field) {
  const std::optional<std::string> text = scalar(field, "a whole number");
  if (!text) return std::nullopt;
  std::uint32_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || value < 1) {
    report(field.at, fmt::format("{} must be a whole number of at least 1, got {}", field.subject,
                                 in_quotes(*text)));
    return std::nullopt;
  }
  return value;
}

std::string YamlChecker::unknown_choice_message(std::string_view subject, std::string_view text,
                                                std::span<const std::string_view> names) {
  return fmt::format("bad {} {}, expected {}", subject, in_quotes(text), join_choices(names));
}

}  // namespace replywatch::rules

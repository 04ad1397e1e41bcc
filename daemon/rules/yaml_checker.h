// Positioned checks of YAML values, independent of what the file means: the rule schema is built
// on these. Each check reports its own problem with the value's position and returns nothing, so
// that a schema can check every value on its own and report every mistake of a file at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "replywatch/rule_loader.h"
#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace replywatch::rules {

// User text inside a message: quoted, control characters escaped, long text cut short.
std::string in_quotes(std::string_view text);

// "a, b or c"
std::string join_choices(std::span<const std::string_view> names);

// How a message names a value: "a list", "a mapping", the quoted scalar, or "nothing".
std::string describe(const YAML::Node& node);

SourcePosition position_of(const YAML::Mark& mark);

// Where each of the text's first `at_most` YAML documents starts. yaml-cpp 0.7's LoadAll never
// returns on a stray "," at block level (it yields an empty document without consuming the
// token, forever), so this counts with a parser that stops at `at_most`; a stuck parser shows as
// two starts at the same position.
std::vector<YAML::Mark> document_starts(std::string_view text, std::size_t at_most);

// A value to check: the node, where to point at it, and how to name it in messages.
struct Field {
  std::string subject;
  YAML::Node node;
  SourcePosition at;
};

struct Entry {
  std::string key;
  SourcePosition key_at;
  YAML::Node value;

  // yaml-cpp gives an empty value the position of whatever token follows it, often on the next
  // line; for those the key is the honest place to point at.
  Field field() const;
};

// A checked mapping: entries with scalar, unique, known keys, in file order.
struct Mapping {
  SourcePosition at;
  std::vector<Entry> entries;

  const Entry* find(std::string_view key) const;
};

struct ParsedDuration {
  Duration value;
  std::string text;  // as the file spells it, for messages
  SourcePosition at;
};

// Whether every part of a value checked out. Parts are checked on their own, so one bad part does
// not hide the errors of the others.
class Verdict {
 public:
  template <typename Parsed, typename Target>
  bool take(const std::optional<Parsed>& parsed, Target& target) {
    if (!parsed) {
      ok_ = false;
      return false;
    }
    target = *parsed;
    return true;
  }
  void fail() { ok_ = false; }
  bool ok() const { return ok_; }

 private:
  bool ok_ = true;
};

class YamlChecker {
 public:
  explicit YamlChecker(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  void report(SourcePosition at, std::string message);
  bool has_errors() const { return !errors_.empty(); }
  std::vector<RuleError> take_errors() { return std::move(errors_); }

  // The text's one YAML document, or nothing (reported): no document, a second document, or an
  // empty one; `empty_message` is what an empty text is told.
  std::optional<YAML::Node> only_document(std::string_view text, std::string_view empty_message);

  // A mapping whose keys are all in `known`; unknown and duplicate keys are reported and left out.
  std::optional<Mapping> mapping(const Field& field, std::span<const std::string_view> known);

  // The entry's value, or nothing after reporting the missing key at the mapping.
  std::optional<Field> required(const Mapping& map, std::string_view key);

  std::optional<std::vector<Field>> list(const Field& field, std::string_view item_subject);
  std::optional<std::string> scalar(const Field& field, std::string_view expected = "a string");
  std::optional<Duration> duration(const Field& field, bool must_be_positive);
  std::optional<ParsedDuration> duration_with_text(const Field& field, bool must_be_positive);
  std::optional<std::uint32_t> count_at_least_one(const Field& field);

  template <typename Enum>
  std::optional<Enum> choice(const Field& field,
                             std::initializer_list<std::pair<std::string_view, Enum>> choices) {
    std::vector<std::string_view> names;
    for (const auto& choice : choices) names.push_back(choice.first);
    const std::optional<std::string> text = scalar(field, join_choices(names));
    if (!text) return std::nullopt;
    for (const auto& [name, value] : choices) {
      if (name == *text) return value;
    }
    report(field.at, unknown_choice_message(field.subject, *text, names));
    return std::nullopt;
  }

 private:
  static std::string unknown_choice_message(std::string_view subject, std::string_view text,
                                            std::span<const std::string_view> names);

  std::string file_;
  std::vector<RuleError> errors_;
};

}  // namespace replywatch::rules

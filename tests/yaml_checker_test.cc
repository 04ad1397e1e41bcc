#include "yaml_checker.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace replywatch::rules {
namespace {

using namespace std::chrono_literals;

// The checker's errors as "FILE:LINE:COL: message".
std::vector<std::string> messages(YamlChecker& checker) {
  std::vector<std::string> lines;
  for (const RuleError& error : checker.take_errors()) lines.push_back(error.to_string());
  return lines;
}

Field root_of(YamlChecker& checker, const std::string& text) {
  const std::optional<YAML::Node> node = checker.only_document(text, "empty");
  REQUIRE(node.has_value());
  return {"the file", *node, position_of(node->Mark())};
}

constexpr std::array<std::string_view, 3> kKeys = {"a", "b", "c"};

}  // namespace

TEST_CASE("only_document refuses empty text, a second document and a stuck parser",
          "[yaml_checker]") {
  YamlChecker checker("f.yaml");
  CHECK_FALSE(checker.only_document("", "empty file"));
  CHECK_FALSE(checker.only_document("# only a comment\n", "empty file"));
  CHECK_FALSE(checker.only_document("a: 1\n---\nb: 2\n", "empty file"));
  // yaml-cpp's LoadAll loops for ever on this one.
  CHECK_FALSE(checker.only_document(",\n", "empty file"));
  CHECK(messages(checker) ==
        std::vector<std::string>{"f.yaml: empty file", "f.yaml: empty file",
                                 "f.yaml:2:1: a rule file holds one yaml document, found a "
                                 "second one",
                                 "f.yaml:1:1: invalid yaml: unexpected \",\""});
  CHECK(checker.only_document("a: 1\n", "empty file"));
  CHECK_FALSE(checker.has_errors());
}

TEST_CASE("mapping keeps known keys in file order and reports the rest where they are",
          "[yaml_checker]") {
  YamlChecker checker("f.yaml");
  const Field root = root_of(checker, "b: 1\nx: 2\na: 3\nb: 4\n? [1]\n: 5\n");
  const std::optional<Mapping> map = checker.mapping(root, kKeys);
  REQUIRE(map);
  REQUIRE(map->entries.size() == 2);
  CHECK(map->entries[0].key == "b");
  CHECK(map->entries[1].key == "a");
  CHECK(map->find("a") == &map->entries[1]);
  CHECK(map->find("c") == nullptr);
  CHECK(messages(checker) == std::vector<std::string>{
                                 "f.yaml:2:1: unknown key \"x\", expected a, b or c",
                                 "f.yaml:4:1: duplicate key \"b\"",
                                 "f.yaml:5:3: keys must be plain names, got a list",
                             });
}

TEST_CASE("required points at the mapping, and an empty value at its key", "[yaml_checker]") {
  YamlChecker checker("f.yaml");
  const Field root = root_of(checker, "a:\nb: x\n");
  const std::optional<Mapping> map = checker.mapping(root, kKeys);
  REQUIRE(map);
  CHECK_FALSE(checker.required(*map, "c"));
  const std::optional<Field> a = checker.required(*map, "a");
  REQUIRE(a);
  CHECK(a->at.line == 1);
  CHECK(a->at.column == 1);
  CHECK_FALSE(checker.scalar(*a, "a word"));
  CHECK(messages(checker) == std::vector<std::string>{"f.yaml:1:1: missing key \"c\"",
                                                      "f.yaml:1:1: a must be a word, got nothing"});
}

TEST_CASE("scalar checks name the value and quote what the file says", "[yaml_checker]") {
  YamlChecker checker("f.yaml");
  const Field root =
      root_of(checker, "d: 3m\nz: 0s\nbad: 3 min\nn: 0\nm: 12\nl: [1, 2]\nk: ok\nw: \"\\x01\"\n");
  const std::optional<Mapping> map = checker.mapping(
      root, std::array<std::string_view, 8>{"d", "z", "bad", "n", "m", "l", "k", "w"});
  REQUIRE(map);
  const auto field = [&](std::string_view key) { return map->find(key)->field(); };
  CHECK(checker.duration(field("d"), true) == Duration(3min));
  CHECK(checker.duration(field("z"), false) == Duration(0));
  CHECK_FALSE(checker.duration(field("z"), true));
  CHECK_FALSE(checker.duration(field("bad"), false));
  CHECK_FALSE(checker.count_at_least_one(field("n")));
  CHECK(checker.count_at_least_one(field("m")) == 12U);
  CHECK_FALSE(checker.list(field("k"), "each item"));
  const std::optional<std::vector<Field>> items = checker.list(field("l"), "each item");
  REQUIRE(items);
  CHECK(items->size() == 2);
  CHECK((*items)[1].at.column == 8);
  CHECK(checker.choice<int>(field("k"), {{"ok", 1}, {"fine", 2}}) == 1);
  CHECK_FALSE(checker.choice<int>(field("w"), {{"ok", 1}}));
  const std::optional<ParsedDuration> parsed = checker.duration_with_text(field("d"), true);
  REQUIRE(parsed);
  CHECK(parsed->text == "3m");
  CHECK(messages(checker) ==
        std::vector<std::string>{
            "f.yaml:2:4: z must be greater than 0",
            "f.yaml:3:6: bad duration \"3 min\", expected an integer followed by ms, s, m, h or d",
            "f.yaml:4:4: n must be a whole number of at least 1, got \"0\"",
            "f.yaml:7:4: k must be a list, got \"ok\"",
            "f.yaml:8:4: bad w \"\\x01\", expected ok",
        });
}

TEST_CASE("in_quotes escapes control characters and cuts long text on a character boundary",
          "[yaml_checker]") {
  CHECK(in_quotes("a\"b\\c\n") == R"("a\"b\\c\x0a")");
  const std::string long_text = std::string(59, 'x') + "\xe4\xb8\xad" + "tail";
  CHECK(in_quotes(long_text) == "\"" + std::string(59, 'x') + "...\"");
  CHECK(join_choices(std::array<std::string_view, 1>{"a"}) == "a");
  CHECK(join_choices(kKeys) == "a, b or c");
}

TEST_CASE("Verdict remembers any failure and copies what parsed", "[yaml_checker]") {
  Verdict verdict;
  int target = 0;
  CHECK(verdict.take(std::optional<int>(4), target));
  CHECK(target == 4);
  CHECK(verdict.ok());
  CHECK_FALSE(verdict.take(std::optional<int>(), target));
  CHECK(target == 4);
  CHECK_FALSE(verdict.ok());
}

}  // namespace replywatch::rules

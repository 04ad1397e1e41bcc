// RuleReloader: coalescing and unchanged files, with the worker and the event loop as queues.
#include "rule_reloader.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using replywatch::RuleLoadResult;
using replywatch::RuleSet;
using replywatch::server::ParsedRules;
using replywatch::server::ReloadOutcome;
using replywatch::server::RuleReloader;

namespace {

struct Harness {
  std::uint64_t files = 1;  // the fingerprint of the files on disk
  bool bad_files = false;
  std::deque<RuleReloader::Task> worker;
  std::deque<RuleReloader::Task> loop;
  std::vector<std::uint64_t> rebuilds;  // fingerprints of rebuilt rule sets, by platform count
  int unchanged = 0;
  int refused = 0;
  std::vector<ReloadOutcome> outcomes;
  std::unique_ptr<RuleReloader> reloader;

  Harness() {
    RuleReloader::Hooks hooks;
    hooks.parse = [this] {
      ParsedRules parsed;
      parsed.fingerprint = files;
      if (bad_files) {
        parsed.loaded.errors.push_back({"t.yaml", 1, 1, "bad"});
      } else {
        parsed.loaded.rules.platforms.resize(static_cast<std::size_t>(files));
      }
      return parsed;
    };
    hooks.run_on_worker = [this](RuleReloader::Task task) { worker.push_back(std::move(task)); };
    hooks.post = [this](RuleReloader::Task task) { loop.push_back(std::move(task)); };
    hooks.start_rebuild = [this](std::shared_ptr<const RuleSet> rules, const std::string&) {
      rebuilds.push_back(rules->platforms.size());
      return true;
    };
    hooks.refused = [this](const auto&, const std::string&) { ++refused; };
    hooks.unchanged = [this](const std::string&) { ++unchanged; };
    reloader = std::make_unique<RuleReloader>(std::move(hooks), 1);
  }

  void request() {
    reloader->request("test", [this](ReloadOutcome outcome) { outcomes.push_back(outcome); });
  }
  // The worker finishes its parse and the loop runs what it posted.
  void parse_done() {
    REQUIRE(worker.size() == 1);
    auto task = std::move(worker.front());
    worker.pop_front();
    task();
    while (!loop.empty()) {
      auto next = std::move(loop.front());
      loop.pop_front();
      next();
    }
  }
};

}  // namespace

TEST_CASE("rule reloader: unchanged files rebuild nothing", "[reload]") {
  Harness h;
  h.request();
  h.parse_done();
  CHECK(h.rebuilds.empty());
  CHECK(h.unchanged == 1);
  REQUIRE(h.outcomes.size() == 1);
  CHECK(h.outcomes[0].ok);
  CHECK_THAT(h.outcomes[0].state, Catch::Contains("unchanged"));
}

TEST_CASE("rule reloader: a storm of reloads during a rebuild ends in one more rebuild",
          "[reload]") {
  // The review: 47 reloads 200 ms apart completed 0 rebuilds, each superseding the last.
  Harness h;
  h.files = 2;
  h.request();
  h.parse_done();
  REQUIRE(h.rebuilds == std::vector<std::uint64_t>{2});
  for (int i = 0; i < 47; ++i) {
    h.files = 3 + i % 2;  // the files keep changing
    h.request();
    h.parse_done();
  }
  CHECK(h.rebuilds.size() == 1);  // the running rebuild is never superseded
  CHECK(h.outcomes.size() == 48);
  for (const auto& outcome : h.outcomes) CHECK(outcome.ok);
  h.reloader->rebuild_finished(true);
  // The newest files are rebuilt next, once.
  CHECK(h.rebuilds == std::vector<std::uint64_t>{2, 3});
  h.reloader->rebuild_finished(true);
  CHECK(h.rebuilds.size() == 2);
  h.request();
  h.parse_done();
  CHECK(h.rebuilds.size() == 2);  // now in force: unchanged
}

TEST_CASE("rule reloader: requests during a parse share the next parse", "[reload]") {
  Harness h;
  h.files = 2;
  h.request();
  h.request();
  h.request();
  CHECK(h.reloader->parses() == 1);
  h.parse_done();  // the first parse; the two waiting start another
  CHECK(h.outcomes.size() == 1);
  CHECK(h.reloader->parses() == 2);
  h.parse_done();
  CHECK(h.outcomes.size() == 3);
  CHECK(h.rebuilds.size() == 1);
}

TEST_CASE("rule reloader: bad files are refused and change nothing", "[reload]") {
  Harness h;
  h.bad_files = true;
  h.files = 5;
  h.request();
  h.parse_done();
  CHECK(h.refused == 1);
  CHECK(h.rebuilds.empty());
  REQUIRE(h.outcomes.size() == 1);
  CHECK_FALSE(h.outcomes[0].ok);
  CHECK(h.outcomes[0].errors == std::vector<std::string>{"t.yaml:1:1: bad"});
}

TEST_CASE("rule reloader: the fingerprint changes with any byte or name of a rule file",
          "[reload]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("replywatch-reloader-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
  };
  using replywatch::server::rule_directory_fingerprint;
  write("a.yaml", "platform: a\n");
  const auto first = rule_directory_fingerprint(dir.string());
  CHECK(rule_directory_fingerprint(dir.string()) == first);
  write("notes.txt", "not a rule file");
  write(".a.yaml.swp", "editor backup");
  CHECK(rule_directory_fingerprint(dir.string()) == first);
  write("a.yaml", "platform: b\n");
  const auto second = rule_directory_fingerprint(dir.string());
  CHECK(second != first);
  std::filesystem::rename(dir / "a.yaml", dir / "b.yaml");
  CHECK(rule_directory_fingerprint(dir.string()) != second);
  std::filesystem::remove_all(dir);
}

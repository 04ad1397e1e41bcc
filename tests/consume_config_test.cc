// The `ingest` and `consume` keys: values, and every problem as FILE:LINE:COL: message.
#include "consume_config.h"

#include <catch2/catch.hpp>

#include "daemon_config.h"
#include "temp_dir.h"

using replywatch::jetstream::consume_problems;
using replywatch::jetstream::ConsumeConfig;
using replywatch::server::DaemonConfig;
using replywatch::server::load_config_file;
using rwtest::TempDir;

namespace {

struct Loaded {
  std::string path;
  DaemonConfig config;
  std::vector<std::string> errors;
};

Loaded load(TempDir& dir, const std::string& text) {
  Loaded out;
  out.path = dir.write("replywatch.yaml", text);
  out.errors = load_config_file(out.path, out.config);
  return out;
}

// The same settings with log.kind jetstream: the roles are the stream's.
DaemonConfig on_a_stream(DaemonConfig config) {
  config.log.kind = replywatch::jetstream::LogKind::kJetStream;
  config.log.servers = {"nats://127.0.0.1:4222"};
  return config;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace

TEST_CASE("consume_config: the defaults ingest and consume every partition", "[consume_config]") {
  const DaemonConfig config;
  CHECK(config.ingest);
  CHECK(config.consume.mode == ConsumeConfig::Mode::kAll);
  CHECK(config.consume.partitions(4) == std::vector<std::uint32_t>{0, 1, 2, 3});
  CHECK(config.consume.to_string() == "all");
}

TEST_CASE("consume_config: all, none and lists of partitions and ranges", "[consume_config]") {
  TempDir dir("consume");
  SECTION("none, ingest only") {
    const Loaded loaded = load(dir, "ingest: true\nconsume: none\n");
    REQUIRE(loaded.errors.empty());
    CHECK(loaded.config.consume.mode == ConsumeConfig::Mode::kNone);
    CHECK(loaded.config.consume.partitions(16).empty());
    CHECK_FALSE(loaded.config.consume.consumes_any());
  }
  SECTION("consume only") {
    const Loaded loaded = load(dir, "ingest: false\nconsume: all\n");
    REQUIRE(loaded.errors.empty());
    CHECK_FALSE(loaded.config.ingest);
    CHECK(loaded.config.consume.mode == ConsumeConfig::Mode::kAll);
  }
  SECTION("a list, sorted whatever the order written") {
    const Loaded loaded = load(dir, "consume: [12, 0-7, 9-9]\n");
    INFO(joined(loaded.errors));
    REQUIRE(loaded.errors.empty());
    const ConsumeConfig& consume = loaded.config.consume;
    CHECK(consume.mode == ConsumeConfig::Mode::kList);
    CHECK(consume.partitions(16) == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 9, 12});
    CHECK(consume.to_string() == "0-7,9,12");
    CHECK(replywatch::server::validate_config(on_a_stream(loaded.config)).empty());
  }
  SECTION("a block list") {
    const Loaded loaded = load(dir, "consume:\n  - 3\n  - 5-6\n");
    REQUIRE(loaded.errors.empty());
    CHECK(loaded.config.consume.partitions(16) == std::vector<std::uint32_t>{3, 5, 6});
  }
}

TEST_CASE("consume_config: the roles need log.kind jetstream", "[consume_config]") {
  TempDir dir("consume_local");
  for (const char* text : {"ingest: false\n", "consume: [0-3]\n", "consume: none\n"}) {
    INFO(text);
    const Loaded loaded = load(dir, text);
    REQUIRE(loaded.errors.empty());
    const auto problems = replywatch::server::validate_config(loaded.config);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::StartsWith("ingest and consume are roles on a shared stream"));
    CHECK(replywatch::server::validate_config(on_a_stream(loaded.config)).empty());
  }
  const Loaded idle = load(dir, "ingest: false\nconsume: none\n");
  CHECK(replywatch::server::validate_config(on_a_stream(idle.config)) ==
        std::vector<std::string>{
            "ingest: false with consume: none leaves this daemon nothing to do"});
}

TEST_CASE("consume_config: problems name the file, line and column", "[consume_config]") {
  TempDir dir("consume_bad");
  SECTION("a reversed range") {
    const Loaded loaded = load(dir, "consume: [0-3, 9-4]\n");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0] ==
          loaded.path + ":1:16: consume: the range 9-4 is reversed (write 4-9)");
    CHECK(loaded.config.consume.mode == ConsumeConfig::Mode::kAll);  // unchanged
  }
  SECTION("overlapping ranges") {
    const Loaded loaded = load(dir, "consume:\n  - 0-7\n  - 12\n  - 5\n");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0] ==
          loaded.path + ":4:5: consume: 5 overlaps 0-7 (at " + loaded.path + ":2:5)");
  }
  SECTION("not a number") {
    const Loaded loaded = load(dir, "consume: [0-x, -1, 2-, some]\n");
    REQUIRE(loaded.errors.size() == 4);
    CHECK(loaded.errors[0] == loaded.path +
                                  ":1:11: consume: \"0-x\" is not a partition number or a range "
                                  "of them like 0-7 (numbers from 0)");
    CHECK(loaded.errors[1].starts_with(loaded.path + ":1:16: consume: \"-1\""));
  }
  SECTION("neither all, none nor a list") {
    for (const char* text : {"consume: some\n", "consume: []\n", "consume: {a: 1}\n"}) {
      const Loaded loaded = load(dir, text);
      REQUIRE(loaded.errors.size() == 1);
      CHECK(loaded.errors[0] == loaded.path +
                                    ":1:10: consume must be all, none, or a non-empty list of "
                                    "partitions and ranges like [0-7, 12]");
    }
  }
  SECTION("a nested list item") {
    const Loaded loaded = load(dir, "consume: [[1, 2]]\n");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].starts_with(loaded.path + ":1:11: consume: a partition number"));
  }
  SECTION("ingest not a boolean") {
    const Loaded loaded = load(dir, "ingest: yes please\n");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0] == loaded.path + ":1:9: ingest must be true or false");
  }
}

TEST_CASE("consume_config: partitions beyond log.partitions are refused with their place",
          "[consume_config]") {
  TempDir dir("consume_range");
  const Loaded loaded = load(dir, "consume: [0-3, 14-16]\n");
  REQUIRE(loaded.errors.empty());
  CHECK(consume_problems(loaded.config.consume, 32).empty());
  const auto problems = consume_problems(loaded.config.consume, 16);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == loaded.path +
                           ":1:16: consume: partition 16 does not exist: the stream has "
                           "log.partitions 16 (partitions 0 to 15)");
  // The daemon's check across settings says the same.
  CHECK(replywatch::server::validate_config(on_a_stream(loaded.config)) == problems);
  // The partitions of a smaller stream are only those it has.
  CHECK(loaded.config.consume.partitions(15) == std::vector<std::uint32_t>{0, 1, 2, 3, 14});
}

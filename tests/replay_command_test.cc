// The `replywatch check` and `replywatch replay` commands, run as the real binary.
#include <sys/wait.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("replywatch-cli-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs the binary with `args` (already shell-quoted where needed), stdin from `input_file`.
CommandResult run(const std::string& args, const std::string& input_file = "/dev/null") {
  TempDir scratch;
  const fs::path out = scratch.path() / "out";
  const fs::path err = scratch.path() / "err";
  const std::string command = std::string("'") + REPLYWATCH_BINARY + "' " + args + " <'" +
                              input_file + "' >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

const std::string kRules = std::string(REPLYWATCH_SOURCE_DIR) + "/rules";

const char* const kShopYaml = R"(platform: shopx
timezone: UTC
service_hours:
  weekly:
    - days: [mon, tue, wed, thu, fri, sat, sun]
      from: "09:00"
      to: "17:00"
slas:
  - name: reply_60s
    kind: reply_time
    deadline: 60s
    warn_before: 20s
    objective: 0.5
    window: 1d
  - name: avg_30s
    kind: average_response
    max_average: 30s
    unanswered_cost: 120s
  - name: online
    kind: agent_presence
    hours: service
    grace: 10s
)";

}  // namespace

TEST_CASE("replay_command: check passes on the bundled rules", "[cli]") {
  const CommandResult result = run("check '" + kRules + "'");
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.find("6 rule files OK") != std::string::npos);
}

TEST_CASE("replay_command: check lists every error with its position and exits 1", "[cli]") {
  TempDir dir;
  dir.write("a.yaml",
            "platform: a\ntimezone: Mars/Olympus\nslas:\n  - name: x\n    kind: reply_time\n"
            "    deadline: 3 min\n");
  dir.write("b.yaml",
            "platform: b\ntimezone: UTC\nbogus: 1\nslas:\n  - name: y\n"
            "    kind: reply_time\n    deadline: 3m\n");
  const CommandResult result = run("check '" + dir.path().string() + "'");
  CHECK(result.exit_code == 1);
  const std::string a = (dir.path() / "a.yaml").string();
  const std::string b = (dir.path() / "b.yaml").string();
  CHECK(result.out.find(a + ":2:11: ") != std::string::npos);  // the unknown zone's value
  CHECK(result.out.find(a + ":6:15: ") != std::string::npos);  // the bad duration's value
  CHECK(result.out.find(b + ":3:1: ") != std::string::npos);   // the unknown key
}

TEST_CASE("replay_command: --help and --version on every command", "[cli]") {
  for (const char* command : {"", "check ", "replay "}) {
    const CommandResult help = run(std::string(command) + "--help");
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("usage: replywatch") != std::string::npos);
    const CommandResult version = run(std::string(command) + "--version");
    CHECK(version.exit_code == 0);
    CHECK(version.out.rfind("replywatch ", 0) == 0);
  }
  CHECK(run("frobnicate").exit_code == 2);
  CHECK(run("replay --format xml x").exit_code == 2);
}

TEST_CASE("replay_command: json report agrees with the contract field by field", "[cli]") {
  TempDir dir;
  dir.write("shopx.yaml", kShopYaml);
  // 10:00 buyer c1, answered after 30 s (met; cost 30 s).
  // 10:05 buyer c2, never answered: warning at 10:05:40, breach at 10:06:00, cost cap at 10:07.
  // Shop s1's first event is at 10:00 with nobody online: shortfall from 10:00, incident at
  // 10:00:10; an agent comes online at 10:01:00, so 60 s understaffed.
  const fs::path events = dir.write(
      "events.ndjson",
      R"({"id":"1","platform":"shopx","shop":"s1","type":"buyer_message","conversation":"c1","ts":"2026-11-20T10:00:00Z"}
{"id":"2","platform":"shopx","shop":"s1","type":"agent_message","conversation":"c1","ts":"2026-11-20T10:00:30.000Z"}
{"id":"3","platform":"shopx","shop":"s1","type":"agent_status","agent":"a1","status":"online","ts":"2026-11-20T10:01:00Z"}

{"id":"2","platform":"shopx","shop":"s1","type":"agent_message","conversation":"c1","ts":"2026-11-20T10:00:30.000Z"}
{"id":"4","platform":"shopx","shop":"s1","type":"buyer_message","conversation":"c2","ts":1795169100000}
not json at all
{"id":"5","platform":"nowhere","shop":"s1","type":"buyer_message","conversation":"c3","ts":"2026-11-20T10:06:00Z"}
{"id":"6","platform":"shopx","shop":"s2","type":"buyer_message","conversation":"c9","ts":"2026-11-20T12:00:00Z"}
)");
  const CommandResult result =
      run("replay --rules '" + dir.path().string() +
          "' --format json --until 2026-11-20T10:10:00Z '" + events.string() + "'");
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find(":7: rejected: bad_json") != std::string::npos);
  CHECK(result.err.find(":8: rejected: unknown_platform") != std::string::npos);

  const boost::json::object report = boost::json::parse(result.out).as_object();
  CHECK(report.at("until").as_string() == "2026-11-20T10:10:00.000Z");
  const auto& counts = report.at("events").as_object();
  CHECK(counts.at("accepted").as_int64() == 5);  // s2's event after --until is still counted
  CHECK(counts.at("duplicates").as_int64() == 1);
  CHECK(counts.at("rejected").as_int64() == 2);
  CHECK(counts.at("late").as_int64() == 0);

  const auto& slas = report.at("slas").as_array();
  REQUIRE(slas.size() == 3);  // only s1 had an applied event; sorted by SLA name
  const auto& avg = slas[0].as_object();
  CHECK(avg.at("sla").as_string() == "avg_30s");
  CHECK(avg.at("kind").as_string() == "average_response");
  CHECK(avg.at("rounds").as_int64() == 2);
  CHECK(avg.at("open_rounds").as_int64() == 0);
  CHECK(avg.at("window_rounds").as_int64() == 2);
  CHECK(avg.at("average_response_seconds").as_double() == Approx(75.0));  // (30 + 120) / 2
  CHECK(avg.at("compliance_ratio").as_double() == 0.0);
  CHECK(avg.at("error_budget_remaining_rounds").is_null());
  CHECK(avg.at("violating").as_bool() == true);  // 75 s > 30 s with 2 >= 1 rounds

  const auto& online = slas[1].as_object();
  CHECK(online.at("sla").as_string() == "online");
  CHECK(online.at("breaches").as_int64() == 1);
  CHECK(online.at("understaffed_seconds").as_double() == Approx(60.0));
  CHECK(online.at("rounds").as_int64() == 0);
  CHECK(online.at("violating").as_bool() == false);

  const auto& reply = slas[2].as_object();
  CHECK(reply.at("platform").as_string() == "shopx");
  CHECK(reply.at("shop").as_string() == "s1");
  CHECK(reply.at("sla").as_string() == "reply_60s");
  CHECK(reply.at("rounds").as_int64() == 2);
  CHECK(reply.at("breaches").as_int64() == 1);
  CHECK(reply.at("warnings").as_int64() == 1);
  CHECK(reply.at("open_rounds").as_int64() == 0);
  CHECK(reply.at("window_rounds").as_int64() == 2);
  CHECK(reply.at("compliance_ratio").as_double() == 0.5);
  CHECK(reply.at("error_budget_remaining_rounds").as_int64() == 0);  // floor(2 * 0.5) - 1
  CHECK(reply.at("violating").as_bool() == false);                   // 0.5 is not < 0.5
  CHECK(reply.at("average_response_seconds").as_double() == 0.0);
  CHECK(reply.at("understaffed_seconds").as_double() == 0.0);
}

TEST_CASE("replay_command: stdin, table format and a bad rules directory", "[cli]") {
  TempDir dir;
  dir.write("shopx.yaml", kShopYaml);
  const fs::path events = dir.write(
      "in.ndjson",
      R"({"id":"1","platform":"shopx","shop":"s1","type":"buyer_message","conversation":"c1","ts":"2026-11-20T10:00:00Z"})"
      "\n");
  const CommandResult table =
      run("replay --rules '" + dir.path().string() + "' -", events.string());
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("reply_60s") != std::string::npos);
  CHECK(table.out.find("1 accepted") != std::string::npos);

  TempDir bad;
  bad.write("x.yaml", "platform: x\n");
  const CommandResult refused =
      run("replay --rules '" + bad.path().string() + "' -", events.string());
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.empty());
  CHECK(refused.err.find("x.yaml:1:1: ") != std::string::npos);

  CHECK(run("replay --rules '" + dir.path().string() + "' /nonexistent/file").exit_code == 2);
}

TEST_CASE("replay_command: the bundled sample day replays cleanly", "[cli]") {
  const CommandResult result = run("replay --rules '" + kRules + "' --format json '" +
                                   REPLYWATCH_SOURCE_DIR + "/docs/sample-day.ndjson'");
  REQUIRE(result.exit_code == 0);
  const boost::json::object report = boost::json::parse(result.out).as_object();
  CHECK(report.at("events").as_object().at("rejected").as_int64() == 0);
  CHECK(report.at("events").as_object().at("duplicates").as_int64() == 3);
  CHECK(report.at("slas").as_array().size() == 16);
}

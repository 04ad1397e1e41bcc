// The event log inside the real daemon: upgrade from the old journal, damage, the data directory
// pulled away, a full disk, and `replay --journal` against the daemon's own figures.
#include <sys/mount.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon_process.h"
#include "segment_file.h"

namespace {

using rwtest::Clock;
using rwtest::DaemonProcess;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::scrape;
using rwtest::TempDir;
namespace fs = std::filesystem;

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_2s
    kind: reply_time
    rounds: every
    deadline: 2s
    window: 1h
    resolution: 1m
)";

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

std::string event(const std::string& id, const std::string& type, const std::string& conversation,
                  std::int64_t ts) {
  return R"({"id":")" + id + R"(","platform":"testchat","shop":"s1","type":")" + type +
         R"(","conversation":")" + conversation + R"(","ts":)" + std::to_string(ts) + "}";
}

double value_or(const std::map<std::string, double>& samples, const std::string& key,
                double fallback = -1) {
  const auto found = samples.find(key);
  return found == samples.end() ? fallback : found->second;
}

const std::string kRounds =
    R"(replywatch_sla_rounds_total{platform="testchat",shop="s1",sla="reply_2s"})";
const std::string kBreaches =
    R"(replywatch_sla_breaches_total{platform="testchat",shop="s1",sla="reply_2s"})";
const std::string kReceived =
    R"(replywatch_events_received_total{platform="testchat",type="buyer_message"})";

std::vector<std::string> args_for(const TempDir& dir, const std::string& data = "data") {
  return {"--rules", dir.file("rules"), "--data", dir.file(data), "--allowed-lateness", "100ms"};
}

std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char chunk[4096];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Posts `count` answered rounds (buyer at ts, agent 1 s later), one request each; old enough
// that every round is decided at once.
void post_rounds(const DaemonProcess& daemon, const std::string& prefix, int count,
                 std::int64_t ts) {
  for (int i = 0; i < count; ++i) {
    const std::string body =
        "[" +
        event(prefix + "b" + std::to_string(i), "buyer_message", prefix + std::to_string(i), ts) +
        "," +
        event(prefix + "a" + std::to_string(i), "agent_message", prefix + std::to_string(i),
              ts + 1000) +
        "]";
    REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson).status == 200);
  }
}

}  // namespace

TEST_CASE("An old events.journal is converted on first start; nothing acknowledged is lost",
          "[daemon][event_log]") {
  TempDir dir("log_migrate");
  dir.write("rules/testchat.yaml", kRules);
  const std::int64_t ts = now_ms() - 60'000;
  // The line format of earlier versions: WATERMARK_MS[+] TAB EVENT_JSON.
  std::string journal;
  journal += std::to_string(ts) + "\t" + event("1", "buyer_message", "c1", ts) + "\n";
  journal += "not a record at all\n";
  journal += "9223372036854775807\t" + event("2", "buyer_message", "c2", ts) + "\n";
  journal += std::to_string(ts) + "+\t" + event("3", "agent_message", "c1", ts + 500) + "\n";
  journal += std::to_string(ts) + "\t" + R"({"id":"4","platform":"testchat")";  // torn
  dir.write("data/events.journal", journal);
  {
    DaemonProcess daemon(args_for(dir));
    daemon.wait_for_log(R"(converted the old journal to the event log .*: 2 record\(s\), 2 line)");
    daemon.wait_for_log(R"(restored 2 journal record\(s\))");
    CHECK(value_or(scrape(daemon), kRounds) == 1);
    CHECK(http_call(daemon.ingest_port(), "POST", "/v1/events",
                    event("5", "buyer_message", "c5", ts + 1000), kJson)
              .status == 200);
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  }
  CHECK_FALSE(fs::exists(dir.file("data/events.journal")));
  CHECK(fs::exists(dir.file("data/events.journal.migrated")));  // kept for a downgrade
  DaemonProcess again(args_for(dir));
  again.wait_for_log(R"(restored 3 journal record\(s\))");
  CHECK(again.log().find("converted") == std::string::npos);
  CHECK(value_or(scrape(again), kRounds) == 2);
}

TEST_CASE("A damaged record refuses the start, naming file and offset; --journal-repair skips it",
          "[daemon][event_log]") {
  TempDir dir("log_damaged");
  dir.write("rules/testchat.yaml", kRules);
  const std::int64_t ts = now_ms() - 60'000;
  {
    DaemonProcess daemon(args_for(dir));
    post_rounds(daemon, "x", 3, ts);
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait_exit(std::chrono::seconds(5)) == 0);
  }
  const std::string segment = replywatch::storage::segment_path(dir.file("data/log"), 1);
  std::string bytes;
  {
    std::ifstream in(segment, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t damaged_at = replywatch::storage::kSegmentHeaderBytes + 20;  // first record
  bytes[damaged_at] ^= 0x41;
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << bytes;

  DaemonProcess refused(args_for(dir), false);
  CHECK(refused.wait_exit(std::chrono::seconds(10)) == 1);
  CHECK_THAT(refused.log(),
             Catch::Contains(segment + " at byte " +
                             std::to_string(replywatch::storage::kSegmentHeaderBytes)) &&
                 Catch::Contains("--journal-repair"));

  auto args = args_for(dir);
  args.push_back("--journal-repair");
  DaemonProcess repaired(args);
  const auto samples = scrape(repaired);
  CHECK(value_or(samples, "replywatch_log_damaged_records_skipped_total") == 1);
  CHECK(value_or(samples, kRounds) == 2);  // the round whose buyer message was lost is gone
}

TEST_CASE("A request with a thousand copies of one event writes it once", "[daemon][event_log]") {
  TempDir dir("log_copies");
  dir.write("rules/testchat.yaml", kRules);
  DaemonProcess daemon(args_for(dir));
  const std::int64_t ts = now_ms() - 60'000;
  std::string body = "[";
  for (int i = 0; i < 1000; ++i)
    body += (i > 0 ? "," : "") + event("same", "buyer_message", "c1", ts);
  body += "]";
  const auto reply = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson);
  REQUIRE(reply.status == 200);
  const auto answer = boost::json::parse(reply.body).as_object();
  CHECK(answer.at("accepted").as_int64() == 1);
  CHECK(answer.at("duplicates").as_int64() == 999);
  const auto samples = scrape(daemon);
  CHECK(value_or(samples, kReceived) == 1000);
  CHECK(value_or(samples, R"(replywatch_events_duplicate_total{platform="testchat"})") == 999);
  // One record on disk: the header and one frame of well under 100 bytes.
  CHECK(value_or(samples, "replywatch_log_size_bytes") < 120);
  const auto [code, output] =
      shell(std::string(REPLYWATCH_BINARY) + " replay --format json --rules " + dir.file("rules") +
            " --journal " + dir.file("data"));
  REQUIRE(code == 0);
  CHECK_THAT(output, Catch::Contains(R"("accepted": 1, "duplicates": 0)"));
}

TEST_CASE(
    "The data directory pulled away: 503, nothing acknowledged lost, a second daemon kept off",
    "[daemon][event_log]") {
  TempDir dir("log_identity");
  dir.write("rules/testchat.yaml", kRules);
  const std::int64_t ts = now_ms() - 60'000;
  DaemonProcess daemon(args_for(dir));
  post_rounds(daemon, "k", 5, ts);
  const std::string moved = dir.file("data.moved");
  SECTION("renamed") { fs::rename(dir.file("data"), moved); }
  SECTION("the log replaced by a copy") {
    fs::copy(dir.file("data"), moved, fs::copy_options::recursive);
    fs::rename(dir.file("data/log"), dir.file("data/log.old"));
    fs::copy(moved + "/log", dir.file("data/log"), fs::copy_options::recursive);
  }
  SECTION("removed") {
    fs::copy(dir.file("data"), moved, fs::copy_options::recursive);
    fs::remove_all(dir.file("data"));
  }
  const auto refused = http_call(daemon.ingest_port(), "POST", "/v1/events",
                                 event("late1", "buyer_message", "z1", ts), kJson);
  CHECK(refused.status == 503);
  CHECK(refused.headers.count("retry-after") == 1);
  daemon.wait_for_log("removed, renamed or replaced");
  // A second daemon on the same path stays off, though DATA/lock may be gone.
  fs::create_directories(dir.file("data"));
  DaemonProcess second(args_for(dir), false);
  CHECK(second.wait_exit(std::chrono::seconds(10)) == 1);
  CHECK_THAT(second.log(), Catch::Contains("another replywatch"));
  // A reload must not rebuild from a log that is not the one being written.
  dir.write("rules/testchat.yaml", std::string(kRules) + "\n# changed\n");
  const auto reload = http_call(daemon.admin_port(), "POST", "/-/reload");
  CHECK(reload.status != 200);
  CHECK(value_or(scrape(daemon), kRounds) == 5);
  // Ingest stays refused; nothing acknowledged is lost: restarted on the moved copy, all there.
  CHECK(http_call(daemon.ingest_port(), "POST", "/v1/events",
                  event("late2", "buyer_message", "z2", ts), kJson)
            .status == 503);
  daemon.signal(SIGKILL);
  daemon.wait_exit(std::chrono::seconds(5));
  DaemonProcess restarted(args_for(dir, "data.moved"));
  CHECK(value_or(scrape(restarted), kRounds) == 5);
}

TEST_CASE("A full disk answers 503 and ingest resumes by itself when space returns",
          "[daemon][event_log]") {
  TempDir dir("log_full");
  dir.write("rules/testchat.yaml", kRules);
  const std::string mount_point = dir.file("small");
  fs::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=512k") != 0) {
    WARN("cannot mount a tmpfs here (" << std::strerror(errno)
                                       << "); the write seam of local_event_log_test covers it");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  const std::int64_t ts = now_ms() - 60'000;
  auto args = args_for(dir);
  args[3] = mount_point + "/data";
  int acknowledged = 0;
  {
    DaemonProcess daemon(args);
    post_rounds(daemon, "f", 3, ts);
    acknowledged = 3;
    {
      std::ofstream filler(mount_point + "/filler", std::ios::binary);
      const std::string block(4096, 'x');
      while (filler.write(block.data(), block.size())) {
      }
    }
    int refused = 0;
    std::string refused_body;
    for (int i = 0; i < 50 && refused == 0; ++i) {
      const std::string body =
          "[" + event("g" + std::to_string(i), "buyer_message", "g" + std::to_string(i), ts) + "," +
          event("h" + std::to_string(i), "agent_message", "g" + std::to_string(i), ts + 1000) + "]";
      const auto reply = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kJson);
      if (reply.status == 503) {
        ++refused;
        refused_body = body;
        CHECK(reply.headers.count("retry-after") == 1);
      } else {
        REQUIRE(reply.status == 200);
        ++acknowledged;
      }
    }
    REQUIRE(refused == 1);
    CHECK(value_or(scrape(daemon), "replywatch_log_write_errors_total") >= 1);
    fs::remove(mount_point + "/filler");
    // The refused events were never taken: their retry is accepted, not a duplicate.
    const auto retry = http_call(daemon.ingest_port(), "POST", "/v1/events", refused_body, kJson);
    REQUIRE(retry.status == 200);
    const auto retried = boost::json::parse(retry.body).as_object();
    CHECK(retried.at("accepted").as_int64() == 2);
    CHECK(retried.at("duplicates").as_int64() == 0);
    ++acknowledged;
    post_rounds(daemon, "r", 2, ts);
    acknowledged += 2;
    CHECK(value_or(scrape(daemon), kRounds) == acknowledged);
    daemon.signal(SIGKILL);
    daemon.wait_exit(std::chrono::seconds(5));
  }
  DaemonProcess restarted(args);
  CHECK(value_or(scrape(restarted), kRounds) == acknowledged);
}

TEST_CASE("replay --journal reads the running daemon's log and agrees with its figures",
          "[daemon][event_log]") {
  TempDir dir("log_replay");
  dir.write("rules/testchat.yaml", kRules);
  DaemonProcess daemon(args_for(dir));
  const std::int64_t ts = now_ms() - 600'000;
  post_rounds(daemon, "p", 6, ts);
  // Two unanswered (breached), one answered late, a retried copy.
  const std::string extra = "[" + event("u1", "buyer_message", "u1", ts + 5000) + "," +
                            event("u2", "buyer_message", "u2", ts + 6000) + "," +
                            event("l1", "buyer_message", "l1", ts + 7000) + "," +
                            event("l2", "agent_message", "l1", ts + 12'000) + "," +
                            event("pb0", "buyer_message", "p0", ts) + "]";
  REQUIRE(http_call(daemon.ingest_port(), "POST", "/v1/events", extra, kJson).status == 200);
  const auto samples = scrape(daemon);
  const auto [code, output] =
      shell(std::string(REPLYWATCH_BINARY) + " replay --format json --rules " + dir.file("rules") +
            " --journal " + dir.file("data") + " --until " + std::to_string(now_ms()));
  REQUIRE(code == 0);
  const auto report = boost::json::parse(output.substr(output.find('{'))).as_object();
  const auto& sla = report.at("slas").as_array().at(0).as_object();
  CHECK(sla.at("rounds").as_int64() == static_cast<std::int64_t>(value_or(samples, kRounds)));
  CHECK(sla.at("breaches").as_int64() == static_cast<std::int64_t>(value_or(samples, kBreaches)));
  CHECK(value_or(samples, kRounds) == 9);
  CHECK(value_or(samples, kBreaches) == 3);
  CHECK(report.at("events").as_object().at("accepted").as_int64() == 16);
  // Read only: the daemon goes on writing the same log.
  CHECK(http_call(daemon.ingest_port(), "POST", "/v1/events",
                  event("after", "buyer_message", "a", ts + 20'000), kJson)
            .status == 200);
}

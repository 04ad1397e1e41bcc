// Integration tests of `log.kind: jetstream` on the ingest side: the real daemon and a real
// `nats-server -js` on free loopback ports. Events POSTed are in the stream in the agreed format
// (checked with nats.c), a re-sent batch is all duplicates, 10 000 events in one request are
// taken, and with the server stopped ingest answers 503 and takes nothing, then recovers by
// itself when the server is back. A stream recorded with another partition count is refused.
#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "daemon_process.h"
#include "event_message.h"
#include "nats_server_process.h"
#include "partitioning.h"
#include "replywatch/event_codec.h"
#include "stream_setup.h"

namespace {

using rwtest::DaemonProcess;
using rwtest::eventually;
using rwtest::http_call;
using rwtest::now_ms;
using rwtest::TempDir;

constexpr const char* kRules = R"(platform: testchat
timezone: UTC
slas:
  - name: reply_1h
    kind: reply_time
    rounds: every
    deadline: 1h
    window: 2h
    resolution: 1m
)";

const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};

std::string event_line(const std::string& id, const std::string& shop, std::int64_t ts) {
  return R"({"id":")" + id + R"(","platform":"testchat","shop":")" + shop +
         R"(","type":"buyer_message","conversation":"c1","ts":)" + std::to_string(ts) + "}\n";
}

// The daemon's arguments with log.kind jetstream on `server`.
std::vector<std::string> daemon_args(const TempDir& dir, const rwtest::NatsServerProcess& server,
                                     const std::string& extra_log = {}) {
  dir.write("rules/testchat.yaml", kRules);
  const std::string config = dir.write(
      "config.yaml",
      "log:\n  kind: jetstream\n  servers: [" + server.url() +
          "]\n  partitions: 4\n  publish_timeout: 1s\n  reconnect_max_wait: 200ms\n" + extra_log);
  return {"--config", config, "--rules", dir.file("rules"), "--data", dir.file("data")};
}

// A nats.c client of the test's own, to look into the stream.
class StreamProbe {
 public:
  explicit StreamProbe(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&connection_, url.c_str()) == NATS_OK);
    REQUIRE(natsConnection_JetStream(&context_, connection_, nullptr) == NATS_OK);
  }
  ~StreamProbe() {
    jsCtx_Destroy(context_);
    natsConnection_Destroy(connection_);
  }
  StreamProbe(const StreamProbe&) = delete;
  StreamProbe& operator=(const StreamProbe&) = delete;

  std::uint64_t messages(const std::string& stream = "REPLYWATCH") {
    jsStreamInfo* info = nullptr;
    REQUIRE(js_GetStreamInfo(&info, context_, stream.c_str(), nullptr, nullptr) == NATS_OK);
    const std::uint64_t count = info->State.Msgs;
    jsStreamInfo_Destroy(info);
    return count;
  }

  // The message at `sequence`: subject, the two headers, payload.
  struct Stored {
    std::string subject, id, watermark, payload;
  };
  Stored get(std::uint64_t sequence) {
    natsMsg* message = nullptr;
    REQUIRE(js_GetMsg(&message, context_, "REPLYWATCH", sequence, nullptr, nullptr) == NATS_OK);
    Stored stored;
    stored.subject = natsMsg_GetSubject(message);
    const char* value = nullptr;
    if (natsMsgHeader_Get(message, replywatch::jetstream::kMessageIdHeader, &value) == NATS_OK) {
      stored.id = value;
    }
    if (natsMsgHeader_Get(message, replywatch::jetstream::kWatermarkHeader, &value) == NATS_OK) {
      stored.watermark = value;
    }
    stored.payload.assign(natsMsg_GetData(message),
                          static_cast<std::size_t>(natsMsg_GetDataLength(message)));
    natsMsg_Destroy(message);
    return stored;
  }

  jsCtx* context() { return context_; }

 private:
  natsConnection* connection_ = nullptr;
  jsCtx* context_ = nullptr;
};

}  // namespace

TEST_CASE(
    "daemon_jetstream: accepted events are in the stream in the agreed format; a re-sent "
    "batch is all duplicates",
    "[daemon_jetstream][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_jetstream");
  DaemonProcess daemon(daemon_args(dir, server));
  CHECK_THAT(daemon.log(), Catch::Contains("created the stream REPLYWATCH (4 partitions"));
  const std::int64_t ts = now_ms() - 1000;
  // A shop with a space, to see the id's escaping survive the stream's dedup.
  const std::string body = event_line("e1", "shop-a", ts) + event_line("e2", "shop b", ts) +
                           event_line("e1", "shop b", ts);
  const auto reply = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kNdjson);
  CHECK(reply.status == 200);
  CHECK(reply.body == std::string(R"({"accepted":3,"duplicates":0,"rejected":[]})") + "\n");

  StreamProbe probe(server.url());
  CHECK(probe.messages() == 3);
  const auto stored = probe.get(2);
  const auto decoded = replywatch::decode_event_text(
      stored.payload, [](std::string_view p) { return p == "testchat"; });
  REQUIRE(std::holds_alternative<replywatch::Event>(decoded));
  const replywatch::Event& event = std::get<replywatch::Event>(decoded);
  CHECK(event.id == "e2");
  CHECK(event.shop == "shop b");
  CHECK(stored.subject == "replywatch.events." + std::to_string(replywatch::jetstream::partition_of(
                                                     "testchat", "shop b", 4)));
  CHECK(stored.id == "testchat%0Ashop%20b%0Ae2");
  CHECK(stored.id == replywatch::jetstream::message_id(event));
  replywatch::Instant watermark{};
  REQUIRE(replywatch::jetstream::parse_watermark_header(stored.watermark, watermark));
  // The ingest node's wall clock minus the allowed lateness (2 s by default).
  const std::int64_t header_ms = watermark.time_since_epoch().count();
  CHECK(header_ms <= now_ms() - 2000);
  CHECK(header_ms > now_ms() - 60'000);

  const auto again = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kNdjson);
  CHECK(again.status == 200);
  CHECK(again.body == std::string(R"({"accepted":0,"duplicates":3,"rejected":[]})") + "\n");
  CHECK(probe.messages() == 3);
  // Two copies in one request: the second is the stream's duplicate.
  const auto twice =
      http_call(daemon.ingest_port(), "POST", "/v1/events",
                event_line("e3", "shop-a", ts) + event_line("e3", "shop-a", ts), kNdjson);
  CHECK(twice.body == std::string(R"({"accepted":1,"duplicates":1,"rejected":[]})") + "\n");
  CHECK(probe.messages() == 4);
  // Rejected events never reach the stream.
  const auto bad = http_call(daemon.ingest_port(), "POST", "/v1/events",
                             event_line("e4", "shop-a", ts) + R"({"id":"x"})" + "\n", kNdjson);
  CHECK(bad.status == 422);
  CHECK(probe.messages() == 5);

  const auto metrics = rwtest::scrape(daemon.admin_port());
  CHECK(metrics.at("replywatch_jetstream_connected") == 1);
  CHECK(metrics.at("replywatch_jetstream_publish_seconds_count") == 4);
  CHECK(metrics.at(R"(replywatch_jetstream_publish_failures_total{reason="timeout"})") == 0);
}

TEST_CASE("daemon_jetstream: 10 000 events in one request are published and acknowledged",
          "[daemon_jetstream][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_jetstream_big");
  DaemonProcess daemon(daemon_args(dir, server));
  const std::int64_t ts = now_ms() - 1000;
  std::string body;
  for (int i = 0; i < 10'000; ++i)
    body += event_line("e" + std::to_string(i), "s" + std::to_string(i % 50), ts);
  const auto reply = http_call(daemon.ingest_port(), "POST", "/v1/events", body, kNdjson);
  CHECK(reply.status == 200);
  CHECK(reply.body == std::string(R"({"accepted":10000,"duplicates":0,"rejected":[]})") + "\n");
  StreamProbe probe(server.url());
  CHECK(probe.messages() == 10'000);
}

TEST_CASE(
    "daemon_jetstream: with the server stopped ingest answers 503 and takes nothing; it "
    "recovers by itself",
    "[daemon_jetstream][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_jetstream_outage");
  DaemonProcess daemon(daemon_args(dir, server));
  const std::int64_t ts = now_ms() - 1000;
  CHECK(http_call(daemon.ingest_port(), "POST", "/v1/events", event_line("a", "s1", ts), kNdjson)
            .status == 200);

  server.stop();
  CHECK(
      eventually([&] { return http_call(daemon.admin_port(), "GET", "/-/ready").status == 503; }));
  const auto refused =
      http_call(daemon.ingest_port(), "POST", "/v1/events", event_line("b", "s1", ts), kNdjson);
  CHECK(refused.status == 503);
  CHECK(refused.headers.count("retry-after") == 1);
  auto metrics = rwtest::scrape(daemon.admin_port());
  CHECK(metrics.at("replywatch_jetstream_connected") == 0);
  CHECK(metrics.at(R"(replywatch_jetstream_publish_failures_total{reason="not_connected"})") >= 1);
  CHECK(metrics.at(
            R"(replywatch_http_requests_refused_total{listener="ingest",reason="not_durable"})") >=
        1);

  server.restart();
  CHECK(
      eventually([&] { return http_call(daemon.admin_port(), "GET", "/-/ready").status == 200; }));
  const auto retried = http_call(daemon.ingest_port(), "POST", "/v1/events",
                                 event_line("a", "s1", ts) + event_line("b", "s1", ts), kNdjson);
  CHECK(retried.status == 200);
  CHECK(retried.body == std::string(R"({"accepted":1,"duplicates":1,"rejected":[]})") + "\n");
  StreamProbe probe(server.url());
  // "a" before the outage, "b" after it; the refused "b" was never stored.
  CHECK(probe.messages() == 2);
  metrics = rwtest::scrape(daemon.admin_port());
  CHECK(metrics.at("replywatch_jetstream_connected") == 1);
}

TEST_CASE("daemon_jetstream: a daemon waits for a cluster that is not up yet",
          "[daemon_jetstream][integration]") {
  rwtest::NatsServerProcess server;
  TempDir dir("daemon_jetstream_late");
  const auto args = daemon_args(dir, server);
  server.stop();
  DaemonProcess daemon(args, false);
  daemon.wait_for_log("(waiting for the stream REPLYWATCH)");
  server.restart();
  daemon.wait_for_log("(created the stream REPLYWATCH)");
  daemon.wait_for_log("; (ready)");
}

TEST_CASE("daemon_jetstream: a stream recorded with another partition count is refused",
          "[daemon_jetstream][integration]") {
  rwtest::NatsServerProcess server;
  {
    StreamProbe probe(server.url());
    replywatch::jetstream::LogConfig config;
    config.partitions = 8;
    const auto result = replywatch::jetstream::ensure_stream(
        probe.context(), config, {std::chrono::hours(2), std::chrono::hours(1)},
        std::chrono::seconds(5));
    REQUIRE(result.status == replywatch::jetstream::StreamSetupStatus::kCreated);
  }
  TempDir dir("daemon_jetstream_mismatch");
  DaemonProcess daemon(daemon_args(dir, server), false);
  CHECK(daemon.wait_exit(std::chrono::seconds(20)) == 1);
  CHECK_THAT(daemon.log(),
             Catch::Contains("the stream REPLYWATCH was created with 8 partitions and this "
                             "daemon is configured with log.partitions 4"));
}

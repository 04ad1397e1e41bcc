// The stream's set-up (daemon/jetstream/stream_setup.h): the plan when the daemon creates it
// (pure), the partition-count marker, and against a real nats-server: created when missing,
// used as it is, refused when it records another partition count or is not replywatch's.
#include "stream_setup.h"

#include <nats/nats.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "nats_server_process.h"

using namespace replywatch::jetstream;
using std::chrono::hours;
using std::chrono::milliseconds;

TEST_CASE(
    "stream_setup: the plan keeps events for the rules' horizon and dedups for the "
    "retention",
    "[stream_setup]") {
  LogConfig config;
  config.partitions = 32;
  config.subject_prefix = "acme.events";
  const StreamPlan plan = plan_stream(config, {hours(48), hours(24)});
  CHECK(plan.subjects == "acme.events.*");
  CHECK(plan.max_age == hours(48));
  CHECK(plan.duplicate_window == hours(24));
  CHECK(recorded_partitions(plan.description) == 32u);
  // The server refuses a duplicate window beyond the max age; 0 is the smallest window.
  CHECK(plan_stream(config, {hours(2), hours(24)}).duplicate_window == hours(2));
  CHECK(plan_stream(config, {hours(2), milliseconds(0)}).duplicate_window == milliseconds(1));
  CHECK(plan_stream(config, {milliseconds(0), milliseconds(0)}).max_age == hours(1));
}

TEST_CASE("stream_setup: the partition marker", "[stream_setup]") {
  CHECK(partition_marker(16) == "replywatch partitions=16");
  CHECK(recorded_partitions("replywatch partitions=16") == 16u);
  CHECK(recorded_partitions("ours; replywatch partitions=7 (fixed)") == 7u);
  CHECK_FALSE(recorded_partitions("replywatch partitions=").has_value());
  CHECK_FALSE(recorded_partitions("replywatch partitions=0").has_value());
  CHECK_FALSE(recorded_partitions("some other stream").has_value());
}

namespace {

struct Client {
  explicit Client(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&connection, url.c_str()) == NATS_OK);
    REQUIRE(natsConnection_JetStream(&context, connection, nullptr) == NATS_OK);
  }
  ~Client() {
    jsCtx_Destroy(context);
    natsConnection_Destroy(connection);
  }
  natsConnection* connection = nullptr;
  jsCtx* context = nullptr;
};

}  // namespace

TEST_CASE("stream_setup: created when missing, used as it is, refused when it is another's",
          "[stream_setup][integration]") {
  rwtest::NatsServerProcess server;
  Client client(server.url());
  LogConfig config;
  const StreamNeeds needs{hours(48), hours(24)};
  const auto created = ensure_stream(client.context, config, needs, std::chrono::seconds(5));
  REQUIRE(created.status == StreamSetupStatus::kCreated);
  jsStreamInfo* info = nullptr;
  REQUIRE(js_GetStreamInfo(&info, client.context, "REPLYWATCH", nullptr, nullptr) == NATS_OK);
  CHECK(std::string(info->Config->Subjects[0]) == "replywatch.events.*");
  CHECK(info->Config->Storage == js_FileStorage);
  CHECK(info->Config->Replicas == 1);
  CHECK(info->Config->MaxAge == std::chrono::nanoseconds(hours(48)).count());
  CHECK(info->Config->Duplicates == std::chrono::nanoseconds(hours(24)).count());
  jsStreamInfo_Destroy(info);

  const auto existing = ensure_stream(client.context, config, needs, std::chrono::seconds(5));
  CHECK(existing.status == StreamSetupStatus::kExisting);
  CHECK(existing.warnings.empty());
  // A longer dedup retention than the stream's window: used, with a warning.
  const auto shorter =
      ensure_stream(client.context, config, {hours(48), hours(36)}, std::chrono::seconds(5));
  CHECK(shorter.status == StreamSetupStatus::kExisting);
  CHECK(shorter.warnings.size() == 1);

  config.partitions = 8;
  const auto mismatch = ensure_stream(client.context, config, needs, std::chrono::seconds(5));
  CHECK(mismatch.status == StreamSetupStatus::kRefused);
  CHECK_THAT(mismatch.message, Catch::Contains("created with 16 partitions"));

  // A stream of someone else (no marker) is not taken over.
  jsStreamConfig other;
  jsStreamConfig_Init(&other);
  other.Name = "OTHER";
  const char* subjects[] = {"other.*"};
  other.Subjects = subjects;
  other.SubjectsLen = 1;
  REQUIRE(js_AddStream(nullptr, client.context, &other, nullptr, nullptr) == NATS_OK);
  config.stream = "OTHER";
  const auto foreign = ensure_stream(client.context, config, needs, std::chrono::seconds(5));
  CHECK(foreign.status == StreamSetupStatus::kRefused);
  CHECK_THAT(foreign.message, Catch::Contains("does not record a partition count"));
}

TEST_CASE("stream_setup: a server that does not answer is unavailable, not refused",
          "[stream_setup][integration]") {
  rwtest::NatsServerProcess server;
  Client client(server.url());
  server.stop();
  const auto result =
      ensure_stream(client.context, LogConfig{}, {hours(2), hours(1)}, milliseconds(300));
  CHECK(result.status == StreamSetupStatus::kUnavailable);
  CHECK_FALSE(result.message.empty());
}

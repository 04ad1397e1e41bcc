// A stream message to a log record: subject to partition, watermark header, JSON payload.
#include "stream_message.h"

#include <catch2/catch.hpp>

using replywatch::jetstream::decode_stream_message;
using replywatch::jetstream::partition_of_subject;

TEST_CASE("stream_message: the subject's last token is the partition", "[stream_message]") {
  CHECK(partition_of_subject("replywatch.events.0", "replywatch.events", 16) == 0u);
  CHECK(partition_of_subject("replywatch.events.15", "replywatch.events", 16) == 15u);
  CHECK_FALSE(partition_of_subject("replywatch.events.16", "replywatch.events", 16));
  CHECK_FALSE(partition_of_subject("replywatch.events.", "replywatch.events", 16));
  CHECK_FALSE(partition_of_subject("replywatch.events", "replywatch.events", 16));
  CHECK_FALSE(partition_of_subject("replywatch.eventsX3", "replywatch.events", 16));
  CHECK_FALSE(partition_of_subject("replywatch.events.3x", "replywatch.events", 16));
  CHECK_FALSE(partition_of_subject("other.events.3", "replywatch.events", 16));
}

TEST_CASE("stream_message: a message decodes into a record at its watermark", "[stream_message]") {
  replywatch::storage::LogRecord record;
  std::string problem;
  REQUIRE(decode_stream_message("1764460800000",
                                R"({"id":"m1","platform":"tmall","shop":"s1","conversation":"c1",)"
                                R"("type":"buyer_message","ts":"2025-11-30T00:00:01Z"})",
                                record, problem));
  CHECK(record.watermark.time_since_epoch().count() == 1764460800000);
  CHECK_FALSE(record.continues_batch);
  CHECK(record.event.id == "m1");
  CHECK(record.event.shop == "s1");
}

TEST_CASE("stream_message: a bad header or event is refused with the reason", "[stream_message]") {
  replywatch::storage::LogRecord record;
  std::string problem;
  const std::string event = R"({"id":"m1","platform":"tmall","shop":"s1","conversation":"c1",)"
                            R"("type":"buyer_message","ts":"2025-11-30T00:00:01Z"})";
  for (const char* header : {"", "-5", "12a", "999999999999999999"}) {
    CHECK_FALSE(decode_stream_message(header, event, record, problem));
    CHECK(problem.find("Replywatch-Watermark") != std::string::npos);
  }
  CHECK_FALSE(decode_stream_message("1", "{\"id\":", record, problem));
  CHECK(problem.starts_with("its event does not decode (bad_json"));
  CHECK_FALSE(decode_stream_message("1", R"({"id":"m1"})", record, problem));
  CHECK(problem.starts_with("its event does not decode (missing_field"));
}

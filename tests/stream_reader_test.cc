// StreamReader against a real `nats-server -js` on loopback: the stream read as an event log,
// in stream order, only the consumed partitions, from any sequence, up to an end.
#include "stream_reader.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "nats_test_client.h"
#include "partitioning.h"

using replywatch::jetstream::partition_of;
using replywatch::jetstream::StreamReader;
using replywatch::jetstream::StreamReaderOptions;
using replywatch::storage::LogError;
using replywatch::storage::LoggedRecord;
using replywatch::storage::Sequence;

namespace {

constexpr std::uint32_t kPartitions = 4;
constexpr Sequence kNoEnd = ~Sequence{0};

std::string event_json(const std::string& shop, int n) {
  return fmt::format(R"({{"id":"m{}","platform":"tmall","shop":"{}","conversation":"c{}",)"
                     R"("type":"buyer_message","ts":"2026-11-29T10:00:{:02}Z"}})",
                     n, shop, n, n % 60);
}

struct Published {
  Sequence sequence;
  std::uint32_t partition;
  std::string shop;
};

// 24 events over 12 shops, published in order; returns where each went.
std::vector<Published> publish_events(rwtest::NatsClient& client, int count = 24) {
  std::vector<Published> published;
  for (int n = 0; n < count; ++n) {
    const std::string shop = "shop-" + std::to_string(n % 12);
    const std::uint32_t partition = partition_of("tmall", shop, kPartitions);
    const Sequence sequence = client.publish(fmt::format("rw.ev.{}", partition),
                                             std::to_string(1'000 * n), event_json(shop, n));
    published.push_back({sequence, partition, shop});
  }
  return published;
}

StreamReaderOptions options(std::vector<std::uint32_t> consumed) {
  StreamReaderOptions out;
  out.stream = "RWTEST";
  out.subject_prefix = "rw.ev";
  out.partitions = kPartitions;
  out.consumed = std::move(consumed);
  return out;
}

std::vector<LoggedRecord> read_all(StreamReader& reader, Sequence end = kNoEnd) {
  std::vector<LoggedRecord> out;
  LogError error;
  while (reader.read(5, end, out, error)) {
  }
  REQUIRE_FALSE(error);
  return out;
}

}  // namespace

TEST_CASE("stream_reader: the consumed partitions' events in stream order, others passed over",
          "[stream_reader][jetstream]") {
  rwtest::NatsServerProcess server;
  rwtest::NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  const std::vector<Published> published = publish_events(client);

  LogError error;
  auto reader = StreamReader::open(client.js(), options({1, 3}), 1, error);
  REQUIRE(reader);
  CHECK(reader->stream_last_at_open() == 24);
  const std::vector<LoggedRecord> records = read_all(*reader);
  std::vector<Published> expected;
  for (const Published& p : published) {
    if (p.partition == 1 || p.partition == 3) expected.push_back(p);
  }
  REQUIRE(!expected.empty());
  REQUIRE(expected.size() < published.size());
  REQUIRE(records.size() == expected.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].sequence == expected[i].sequence);
    CHECK(records[i].record.event.shop == expected[i].shop);
    CHECK(records[i].record.watermark.time_since_epoch().count() ==
          1'000 * static_cast<std::int64_t>(expected[i].sequence - 1));
    CHECK_FALSE(records[i].record.continues_batch);
  }
  CHECK(reader->next_sequence() == 25);
  CHECK(reader->pending() == 0);
  CHECK(reader->skipped_records() == 0);
}

TEST_CASE("stream_reader: from a sequence, up to an end, then on as messages come",
          "[stream_reader][jetstream]") {
  rwtest::NatsServerProcess server;
  rwtest::NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  publish_events(client);

  LogError error;
  auto reader = StreamReader::open(client.js(), options({0, 1, 2, 3}), 11, error);
  REQUIRE(reader);
  // Below 15 only: the message at 15 is kept for the next read, not lost.
  const auto first = read_all(*reader, 15);
  REQUIRE(first.size() == 4);
  CHECK(first.front().sequence == 11);
  CHECK(first.back().sequence == 14);
  const auto rest = read_all(*reader);
  REQUIRE(rest.size() == 10);
  CHECK(rest.front().sequence == 15);
  CHECK(rest.back().sequence == 24);

  // Live: nothing there yet, then what is published.
  std::vector<LoggedRecord> live;
  REQUIRE(reader->read_live(100, std::chrono::milliseconds(0), live, error));
  CHECK(live.empty());
  client.publish("rw.ev.2", "99000", event_json("late-shop", 99));
  client.publish("rw.ev.2", "bad", event_json("late-shop", 98));  // not from an ingest node
  client.publish("rw.ev.2", "99001", event_json("late-shop", 97));
  while (reader->next_sequence() < 28) {
    REQUIRE(reader->read_live(100, std::chrono::milliseconds(2000), live, error));
  }
  REQUIRE(live.size() == 2);
  CHECK(live[0].sequence == 25);
  CHECK(live[1].sequence == 27);
  CHECK(reader->skipped_records() == 1);
}

TEST_CASE("stream_reader: one consumed partition is filtered by the server",
          "[stream_reader][jetstream]") {
  rwtest::NatsServerProcess server;
  rwtest::NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  const std::vector<Published> published = publish_events(client);
  std::size_t of_two = 0;
  for (const Published& p : published) of_two += p.partition == 2 ? 1 : 0;

  LogError error;
  auto reader = StreamReader::open(client.js(), options({2}), 1, error);
  REQUIRE(reader);
  const auto records = read_all(*reader);
  CHECK(records.size() == of_two);
  for (const LoggedRecord& logged : records) {
    CHECK(partition_of("tmall", logged.record.event.shop, kPartitions) == 2);
  }
}

TEST_CASE("stream_reader: an empty stream ends at once; a missing one is an error",
          "[stream_reader][jetstream]") {
  rwtest::NatsServerProcess server;
  rwtest::NatsClient client(server.url());
  client.add_stream("RWTEST", "rw.ev.>");
  LogError error;
  auto reader = StreamReader::open(client.js(), options({0, 1}), 1, error);
  REQUIRE(reader);
  std::vector<LoggedRecord> out;
  CHECK_FALSE(reader->read(10, kNoEnd, out, error));
  CHECK_FALSE(error);
  CHECK(out.empty());

  StreamReaderOptions missing = options({0});
  missing.stream = "NOSUCH";
  CHECK_FALSE(StreamReader::open(client.js(), missing, 1, error));
  CHECK(error.message.starts_with("cannot read the stream NOSUCH"));
}

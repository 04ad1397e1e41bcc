#include "record_format.h"

#include <catch2/catch.hpp>
#include <string>

#include "replywatch/event_codec.h"

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;
using namespace replywatch::storage;

namespace {

Instant at(std::int64_t ms) { return Instant(Duration(ms)); }

Event sample(EventType type) {
  Event event;
  event.id = "m-1";
  event.platform = "tmall";
  event.shop = "s1";
  event.conversation = type == EventType::kAgentStatus ? "" : "c-42";
  event.type = type;
  if (type == EventType::kBotMessage) event.bot = "faq-bot";
  if (type == EventType::kAgentStatus || type == EventType::kAgentMessage) event.agent = "alice";
  event.online = type == EventType::kAgentStatus;
  event.ts = at(1'764'000'000'123);
  return event;
}

bool same(const Event& a, const Event& b) {
  return a.id == b.id && a.platform == b.platform && a.shop == b.shop &&
         a.conversation == b.conversation && a.bot == b.bot && a.agent == b.agent &&
         a.channel == b.channel && a.type == b.type && a.online == b.online && a.ts == b.ts;
}

}  // namespace

TEST_CASE("record_format: every event type survives encode and decode", "[record_format]") {
  for (int t = 0; t < replywatch::kEventTypeCount; ++t) {
    Event event = sample(static_cast<EventType>(t));
    if (t == 1) event.channel = "email";
    for (const bool continues : {false, true}) {
      std::string payload;
      encode_record(payload, at(1'764'000'100'000), continues, event);
      LogRecord back;
      REQUIRE(decode_record(payload, back));
      CHECK(same(back.event, event));
      CHECK(back.watermark == at(1'764'000'100'000));
      CHECK(back.continues_batch == continues);
    }
  }
}

TEST_CASE("record_format: events far before or after the watermark", "[record_format]") {
  Event event = sample(EventType::kBuyerMessage);
  for (const std::int64_t ts : {std::int64_t{0}, replywatch::kMaxEpochMillis}) {
    event.ts = at(ts);
    for (const std::int64_t mark : {std::int64_t{0}, replywatch::kMaxEpochMillis}) {
      std::string payload;
      encode_record(payload, at(mark), false, event);
      LogRecord back;
      REQUIRE(decode_record(payload, back));
      CHECK(back.event.ts == event.ts);
      CHECK(back.watermark == at(mark));
    }
  }
}

TEST_CASE("record_format: far smaller than the event's JSON", "[record_format]") {
  const Event event = sample(EventType::kBuyerMessage);
  std::string payload;
  encode_record(payload, event.ts - Duration(2000), false, event);
  const std::string json = replywatch::encode_event(event);
  CHECK(payload.size() * 2 < json.size());
}

TEST_CASE("record_format: anything but a whole, valid record is refused", "[record_format]") {
  const Event event = sample(EventType::kAgentMessage);
  std::string payload;
  encode_record(payload, at(1'764'000'100'000), false, event);
  LogRecord back;
  SECTION("every proper prefix") {
    for (std::size_t n = 0; n < payload.size(); ++n) {
      CHECK_FALSE(decode_record(payload.substr(0, n), back));
    }
  }
  SECTION("trailing bytes") { CHECK_FALSE(decode_record(payload + "x", back)); }
  SECTION("an unknown format version") {
    payload[0] = 2;
    CHECK_FALSE(decode_record(payload, back));
  }
  SECTION("an unknown flag or type") {
    payload[1] = static_cast<char>(payload[1] | 0x40);
    CHECK_FALSE(decode_record(payload, back));
    payload[1] = static_cast<char>((payload[1] & ~0x47) | 0x07);
    CHECK_FALSE(decode_record(payload, back));
  }
  SECTION("an id the JSON decoder would refuse") {
    Event bad = event;
    bad.id.clear();
    std::string encoded;
    encode_record(encoded, at(1'764'000'100'000), false, bad);
    CHECK_FALSE(decode_record(encoded, back));
    bad.id.assign(129, 'x');
    encoded.clear();
    encode_record(encoded, at(1'764'000'100'000), false, bad);
    CHECK_FALSE(decode_record(encoded, back));
  }
  SECTION("a time beyond year 9999") {
    Event bad = event;
    bad.ts = at(replywatch::kMaxEpochMillis + 1);
    std::string encoded;
    encode_record(encoded, at(1'764'000'100'000), false, bad);
    CHECK_FALSE(decode_record(encoded, back));
  }
}

TEST_CASE("record_format: frames carry their length and checksum", "[record_format]") {
  const Event event = sample(EventType::kBuyerMessage);
  std::string frames;
  append_framed_record(frames, at(5), false, event);
  const std::size_t first_size = frames.size();
  std::string payload;
  encode_record(payload, at(6), true, event);
  append_frame(frames, payload);

  std::string_view got;
  std::size_t frame_bytes = 0;
  REQUIRE(check_frame(frames, got, frame_bytes) == FrameCheck::kComplete);
  CHECK(frame_bytes == first_size);
  LogRecord back;
  REQUIRE(decode_record(got, back));
  CHECK(back.watermark == at(5));
  REQUIRE(check_frame(std::string_view(frames).substr(first_size), got, frame_bytes) ==
          FrameCheck::kComplete);
  CHECK(got == payload);

  SECTION("cut anywhere: truncated") {
    for (std::size_t n = 0; n < first_size; ++n) {
      const FrameCheck check = check_frame(std::string_view(frames).substr(0, n), got, frame_bytes);
      CHECK(check == FrameCheck::kTruncated);
    }
  }
  SECTION("any flipped bit: refused") {
    for (std::size_t i = 0; i < first_size; ++i) {
      std::string damaged = frames;
      damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
      CHECK(check_frame(damaged, got, frame_bytes) != FrameCheck::kComplete);
    }
  }
  SECTION("a zero-filled tail: a bad length") {
    CHECK(check_frame(std::string(64, '\0'), got, frame_bytes) == FrameCheck::kBadLength);
  }
}

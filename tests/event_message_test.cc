// The format of an event in the stream (daemon/jetstream/event_message.h): the Nats-Msg-Id's
// escaping (one-to-one, the contract's string for ordinary ids) and the watermark header.
#include "event_message.h"

#include <catch2/catch.hpp>
#include <string>

using replywatch::Duration;
using replywatch::Event;
using replywatch::Instant;
using namespace replywatch::jetstream;

TEST_CASE("event_message: the id is platform, shop and id joined by escaped line feeds",
          "[event_message]") {
  Event event;
  event.platform = "tmall";
  event.shop = "shop-1";
  event.id = "evt-1";
  CHECK(message_id(event) == "tmall%0Ashop-1%0Aevt-1");
  event.shop = "店铺 1";
  event.id = "50%";
  CHECK(message_id(event) == "tmall%0A店铺%201%0A50%25");
}

TEST_CASE("event_message: ids that a raw header would confuse stay apart", "[event_message]") {
  // Raw, "a\nb c" and "a b\nc" both reached the server as "a b c"; " x" and "x" as "x".
  Event first;
  first.platform = "p";
  first.shop = "b c";
  first.id = "x";
  Event second = first;
  second.shop = "b";
  second.id = "c x";
  CHECK(message_id(first) != message_id(second));
  Event third = first;
  third.id = " x";
  CHECK(message_id(first) != message_id(third));
}

TEST_CASE("event_message: escaping is one-to-one and reversible", "[event_message]") {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  const std::string escaped = escape_header_value(every_byte);
  for (const char c : escaped) {
    CHECK(static_cast<unsigned char>(c) > 0x20);
    CHECK(c != 0x7f);
  }
  std::string back;
  REQUIRE(unescape_header_value(escaped, back));
  CHECK(back == every_byte);
  CHECK(escape_header_value("plain-id_1.2:3") == "plain-id_1.2:3");
  CHECK(escape_header_value("a\r\nb\t%") == "a%0D%0Ab%09%25");
  CHECK_FALSE(unescape_header_value("a%2", back));
  CHECK_FALSE(unescape_header_value("a%zz", back));
  CHECK_FALSE(unescape_header_value("%", back));
  REQUIRE(unescape_header_value("a%0ab", back));
  CHECK(back == "a\nb");
}

TEST_CASE("event_message: the watermark header is decimal epoch milliseconds", "[event_message]") {
  const Instant watermark{Duration(1'795'996'679'048)};
  CHECK(watermark_header(watermark) == "1795996679048");
  Instant back{};
  REQUIRE(parse_watermark_header("1795996679048", back));
  CHECK(back == watermark);
  CHECK_FALSE(parse_watermark_header("", back));
  CHECK_FALSE(parse_watermark_header("12a", back));
  CHECK_FALSE(parse_watermark_header("1.5", back));
}

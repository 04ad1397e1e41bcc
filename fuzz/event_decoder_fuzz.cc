// libFuzzer target: one NDJSON line through the event decoder (docs/events.md). Whatever the bytes,
// the decoder returns an event or a rejection; an event survives encode/decode unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "replywatch/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto known = [](std::string_view platform) { return platform == "tmall"; };
  const auto decoded = replywatch::decode_event_text(text, known);
  if (const auto* event = std::get_if<replywatch::Event>(&decoded)) {
    const std::string encoded = replywatch::encode_event(*event);
    const auto again = replywatch::decode_event_text(encoded, known);
    const auto* round_trip = std::get_if<replywatch::Event>(&again);
    if (round_trip == nullptr || round_trip->id != event->id || round_trip->shop != event->shop ||
        round_trip->ts != event->ts || round_trip->type != event->type ||
        round_trip->conversation != event->conversation || round_trip->channel != event->channel) {
      std::abort();
    }
  } else {
    (void)replywatch::reject_reason_name(std::get<replywatch::Rejection>(decoded).reason);
  }
  return 0;
}

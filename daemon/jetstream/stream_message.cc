#include "stream_message.h"

#include <fmt/format.h>

#include <charconv>
#include <variant>

#include "replywatch/event_codec.h"

namespace replywatch::jetstream {

std::optional<std::uint32_t> partition_of_subject(std::string_view subject,
                                                  std::string_view subject_prefix,
                                                  std::uint32_t partitions) {
  if (subject.size() <= subject_prefix.size() + 1 || !subject.starts_with(subject_prefix) ||
      subject[subject_prefix.size()] != '.') {
    return std::nullopt;
  }
  const std::string_view digits = subject.substr(subject_prefix.size() + 1);
  std::uint32_t partition = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, partition);
  if (ec != std::errc{} || ptr != end || partition >= partitions) return std::nullopt;
  return partition;
}

bool decode_stream_message(std::string_view watermark_header, std::string_view payload,
                           storage::LogRecord& out, std::string& problem) {
  std::int64_t millis = 0;
  const char* end = watermark_header.data() + watermark_header.size();
  const auto [ptr, ec] = std::from_chars(watermark_header.data(), end, millis);
  if (watermark_header.empty() || ec != std::errc{} || ptr != end || millis < 0 ||
      millis > kMaxEpochMillis) {
    problem = fmt::format("its {} header \"{}\" is not epoch milliseconds", kWatermarkHeader,
                          watermark_header.substr(0, 64));
    return false;
  }
  // Any platform: one whose rule file is gone is the engine host's to skip, as for the log.
  auto decoded = decode_event_text(payload, [](std::string_view) { return true; });
  if (const Rejection* rejection = std::get_if<Rejection>(&decoded)) {
    problem =
        fmt::format("its event does not decode ({}{}{})", reject_reason_name(rejection->reason),
                    rejection->field.empty() ? "" : ": ", rejection->field);
    return false;
  }
  out.watermark = Instant(Duration(millis));
  out.continues_batch = false;
  out.event = std::move(std::get<Event>(decoded));
  return true;
}

}  // namespace replywatch::jetstream

#include "stream_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "nats_connection.h"

namespace replywatch::jetstream {
namespace {

constexpr std::string_view kMarker = "replywatch partitions=";

std::int64_t nanoseconds(Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

Duration from_nanoseconds(std::int64_t ns) {
  return std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(ns));
}

struct InfoDeleter {
  void operator()(jsStreamInfo* info) const { jsStreamInfo_Destroy(info); }
};
using StreamInfo = std::unique_ptr<jsStreamInfo, InfoDeleter>;

// What an existing stream must be for this daemon: its recorded partition count and subjects.
StreamSetupResult check_existing(const jsStreamInfo& info, const LogConfig& config,
                                 const StreamNeeds& needs) {
  StreamSetupResult result;
  const jsStreamConfig& existing = *info.Config;
  const std::string description = existing.Description != nullptr ? existing.Description : "";
  const auto recorded = recorded_partitions(description);
  if (!recorded) {
    result.status = StreamSetupStatus::kRefused;
    result.message = fmt::format(
        "the stream {} does not record a partition count (its description is \"{}\", not "
        "\"{}\"), so this daemon cannot tell whether its log.partitions {} matches the "
        "stream's events; if the stream holds replywatch's events partitioned by {}, set its "
        "description to \"{}\", otherwise name another log.stream",
        config.stream, description, partition_marker(config.partitions), config.partitions,
        config.partitions, partition_marker(config.partitions));
    return result;
  }
  if (*recorded != config.partitions) {
    result.status = StreamSetupStatus::kRefused;
    result.message = fmt::format(
        "the stream {} was created with {} partitions and this daemon is configured with "
        "log.partitions {}: the partition count is fixed for the stream's life (a shop's events "
        "would land on another partition); set log.partitions: {} or use another log.stream",
        config.stream, *recorded, config.partitions, *recorded);
    return result;
  }
  const std::string wanted = config.subject_prefix + ".*";
  const std::string wider = config.subject_prefix + ".>";
  bool covered = false;
  for (int i = 0; i < existing.SubjectsLen; ++i) {
    const std::string subject = existing.Subjects[i];
    if (subject == wanted || subject == wider || subject == ">") covered = true;
  }
  if (!covered) {
    result.status = StreamSetupStatus::kRefused;
    result.message = fmt::format(
        "the stream {} does not take the subjects {} (log.subject_prefix {}): publishes would "
        "not be stored; add the subject to the stream or set log.subject_prefix to its prefix",
        config.stream, wanted, config.subject_prefix);
    return result;
  }
  result.status = StreamSetupStatus::kExisting;
  if (existing.MaxAge != 0 && from_nanoseconds(existing.MaxAge) < needs.max_age) {
    result.warnings.push_back(fmt::format(
        "the stream {} keeps events for {}, less than the longest rule window plus the dedup "
        "retention ({}): a reload cannot re-derive whole windows; raise its max age",
        config.stream, format_duration_human(from_nanoseconds(existing.MaxAge)),
        format_duration_human(needs.max_age)));
  }
  if (from_nanoseconds(existing.Duplicates) < needs.dedup_retention) {
    result.warnings.push_back(fmt::format(
        "the stream {} recognises a Nats-Msg-Id again for {} only, less than dedup_retention "
        "{}: a webhook retried later than that is stored twice (the engines still count it as "
        "a duplicate)",
        config.stream, format_duration_human(from_nanoseconds(existing.Duplicates)),
        format_duration_human(needs.dedup_retention)));
  }
  return result;
}

bool unavailable(natsStatus status) {
  return status == NATS_TIMEOUT || status == NATS_NO_RESPONDERS ||
         status == NATS_CONNECTION_CLOSED || status == NATS_CONNECTION_DISCONNECTED ||
         status == NATS_NOT_YET_CONNECTED || status == NATS_IO_ERROR;
}

}  // namespace

std::string partition_marker(std::uint32_t partitions) {
  return fmt::format("{}{}", kMarker, partitions);
}

std::optional<std::uint32_t> recorded_partitions(std::string_view description) {
  const std::size_t at = description.find(kMarker);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = description.substr(at + kMarker.size());
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc{} || end == rest.data() || value == 0) return std::nullopt;
  return value;
}

StreamPlan plan_stream(const LogConfig& config, const StreamNeeds& needs) {
  StreamPlan plan;
  plan.description = partition_marker(config.partitions) +
                     " (events of replywatch; the partition count is fixed for the stream's life)";
  plan.subjects = config.subject_prefix + ".*";
  // Never zero (no limit) by accident: an hour at least.
  plan.max_age = std::max<Duration>(needs.max_age, std::chrono::hours(1));
  // JetStream refuses a duplicate window longer than the max age. A zero dedup retention asks
  // for the smallest window the server takes (1 ms), not its 2-minute default.
  plan.duplicate_window =
      std::clamp<Duration>(needs.dedup_retention, std::chrono::milliseconds(1), plan.max_age);
  return plan;
}

StreamSetupResult ensure_stream(jsCtx* context, const LogConfig& config, const StreamNeeds& needs,
                                Duration wait) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = static_cast<std::int64_t>(wait.count());
  StreamSetupResult result;
  // Twice at most: a daemon starting beside this one may create the stream between our look
  // and our create.
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsStreamInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_GetStreamInfo(&raw, context, config.stream.c_str(), &options, &code);
    StreamInfo info(raw);
    if (status == NATS_OK && info) return check_existing(*info, config, needs);
    if (status != NATS_NOT_FOUND && code != JSStreamNotFoundErr) {
      // Whatever kept the look-up from an answer (no quorum yet, JetStream still starting) may
      // pass: try again later.
      result.status = StreamSetupStatus::kUnavailable;
      result.message =
          fmt::format("cannot look up the stream {}: {}", config.stream, nats_error_text(status));
      return result;
    }
    const StreamPlan plan = plan_stream(config, needs);
    const char* subjects[] = {plan.subjects.c_str()};
    jsStreamConfig stream;
    jsStreamConfig_Init(&stream);
    stream.Name = config.stream.c_str();
    stream.Description = plan.description.c_str();
    stream.Subjects = subjects;
    stream.SubjectsLen = 1;
    stream.Storage = js_FileStorage;
    stream.Retention = js_LimitsPolicy;
    stream.Replicas = config.replicas;
    stream.MaxAge = nanoseconds(plan.max_age);
    stream.Duplicates = nanoseconds(plan.duplicate_window);
    code = static_cast<jsErrCode>(0);
    status = js_AddStream(nullptr, context, &stream, &options, &code);
    if (status == NATS_OK) {
      result.status = StreamSetupStatus::kCreated;
      return result;
    }
    if (code == JSStreamNameExistErr) continue;
    result.status =
        unavailable(status) ? StreamSetupStatus::kUnavailable : StreamSetupStatus::kRefused;
    result.message = fmt::format("cannot create the stream {} ({} replica(s)): {}", config.stream,
                                 config.replicas, nats_error_text(status));
    return result;
  }
  result.status = StreamSetupStatus::kUnavailable;
  result.message =
      fmt::format("the stream {} appeared and vanished while being set up", config.stream);
  return result;
}

}  // namespace replywatch::jetstream

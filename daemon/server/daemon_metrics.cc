#include "daemon_metrics.h"

#include <string>

#ifndef REPLYWATCH_VERSION
#define REPLYWATCH_VERSION "unknown"
#endif
#ifndef REPLYWATCH_REVISION
#define REPLYWATCH_REVISION "unknown"
#endif

namespace replywatch::server {
namespace {

prometheus::Gauge& gauge(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Counter& counter(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

DaemonMetrics::DaemonMetrics(std::uint32_t max_shops)
    : registry(std::make_shared<prometheus::Registry>()),
      rejected_family(prometheus::BuildCounter()
                          .Name("replywatch_events_rejected_total")
                          .Help("Events rejected as invalid, by reason.")
                          .Register(*registry)),
      refused_family(prometheus::BuildCounter()
                         .Name("replywatch_http_requests_refused_total")
                         .Help("Requests refused as a whole (no event taken), by listener and "
                               "reason.")
                         .Register(*registry)),
      reload_successful(gauge(*registry, "replywatch_rules_last_reload_successful",
                              "1 if the last rule (re)load succeeded.")),
      reload_timestamp(gauge(*registry, "replywatch_rules_last_reload_success_timestamp_seconds",
                             "When the rules were last loaded successfully.")),
      shops(prometheus::BuildGauge()
                .Name("replywatch_shops")
                .Help("Shops admitted per platform (see max_shops and the rule file's shops).")
                .Register(*registry)),
      clock_suspect(gauge(*registry, "replywatch_clock_suspect",
                          "1 while the wall clock disagrees with elapsed time and the "
                          "disagreement is not yet believed.")),
      alerts_sent(prometheus::BuildCounter()
                      .Name("replywatch_alertmanager_notifications_total")
                      .Help("Conversation alerts accepted by an Alertmanager, by URL.")
                      .Register(*registry)),
      alerts_failed(prometheus::BuildCounter()
                        .Name("replywatch_alertmanager_notifications_failed_total")
                        .Help("Conversation alerts in failed attempts to post them to an "
                              "Alertmanager, by URL.")
                        .Register(*registry)),
      alerts_dropped(counter(*registry, "replywatch_alertmanager_notifications_dropped_total",
                             "Conversation alerts dropped because a queue was full.")),
      log_size(gauge(*registry, "replywatch_log_size_bytes",
                     "Bytes of the event log on disk (segments kept by retention).")),
      log_segments(gauge(*registry, "replywatch_log_segments",
                         "Segment files of the event log on disk; retention deletes whole "
                         "segments.")),
      log_syncs(counter(*registry, "replywatch_log_syncs_total",
                        "fdatasync calls that made appended events durable (one per group "
                        "commit).")),
      log_write_errors(counter(*registry, "replywatch_log_write_errors_total",
                               "Group commits that failed (write, sync, or the log no longer at "
                               "its path); their requests got 503.")),
      log_torn_tails(counter(*registry, "replywatch_log_torn_tails_total",
                             "Unfinished tails (a crash mid-write, never acknowledged) cut off "
                             "the event log at start.")),
      log_torn_bytes(counter(*registry, "replywatch_log_torn_tail_bytes_total",
                             "Bytes of the unfinished tails cut off at start.")),
      log_skipped(counter(*registry, "replywatch_log_damaged_records_skipped_total",
                          "Damaged event log records skipped under --journal-repair.")),
      snapshots_written(counter(*registry, "replywatch_snapshots_written_total",
                                "State snapshots written completely.")),
      snapshot_write_failures(counter(*registry, "replywatch_snapshot_write_failures_total",
                                      "State snapshots that could not be written (the previous "
                                      "ones stay).")),
      snapshot_load_failures(counter(*registry, "replywatch_snapshot_load_failures_total",
                                     "Snapshots found unreadable or damaged on a restore and "
                                     "passed over for an older one or the log alone.")),
      snapshot_last_success(gauge(*registry, "replywatch_snapshot_last_success_timestamp_seconds",
                                  "When the newest snapshot was written (0: none yet).")),
      snapshot_last_bytes(gauge(*registry, "replywatch_snapshot_last_size_bytes",
                                "Size of the newest snapshot file.")),
      snapshot_last_duration(gauge(*registry, "replywatch_snapshot_last_duration_seconds",
                                   "Time the newest snapshot took to write, in the background.")),
      snapshot_last_stall(gauge(*registry, "replywatch_snapshot_last_stall_seconds",
                                "Time the event loop stopped to start the newest snapshot.")),
      restore_duration(gauge(*registry, "replywatch_restore_duration_seconds",
                             "Time the last restore took (snapshot and log tail).")),
      restore_records(gauge(*registry, "replywatch_restore_log_records",
                            "Log records the last restore replayed after its snapshot.")) {
  prometheus::BuildGauge()
      .Name("replywatch_shops_limit")
      .Help("max_shops: admitted shops per platform without an allow-list (0: no limit).")
      .Register(*registry)
      .Add({})
      .Set(max_shops);
  prometheus::BuildGauge()
      .Name("replywatch_build_info")
      .Help("A metric with a constant 1 labelled with the version and revision.")
      .Register(*registry)
      .Add({{"version", REPLYWATCH_VERSION}, {"revision", REPLYWATCH_REVISION}})
      .Set(1);
  for (int r = 0; r < kRejectReasonCount; ++r) {
    rejected_counters[r] = &rejected_family.Add(
        {{"reason", std::string(reject_reason_name(static_cast<RejectReason>(r)))}});
  }
  for (std::size_t l = 0; l < kListenerNames.size(); ++l) {
    for (std::size_t r = 0; r < kRefusalReasonCount; ++r) {
      refused_counters[l][r] = &refused_family.Add(
          {{"listener", kListenerNames[l]},
           {"reason", std::string(refusal_label(static_cast<RefusalReason>(r)))}});
    }
  }
  auto& login_failures = prometheus::BuildCounter()
                             .Name("replywatch_admin_login_failures_total")
                             .Help(
                                 "Admin requests refused for missing, malformed or wrong Basic "
                                 "credentials, by reason.")
                             .Register(*registry);
  for (std::size_t f = 0; f < kLoginFailureCount; ++f) {
    login_failure_counters[f] = &login_failures.Add(
        {{"reason", std::string(login_failure_label(static_cast<LoginFailure>(f)))}});
  }
}

void DaemonMetrics::register_adapters(std::span<const std::string> names) {
  if (names.empty()) return;
  auto& family = prometheus::BuildCounter()
                     .Name("replywatch_adapter_requests_total")
                     .Help("Requests to POST /v1/adapters/NAME, by adapter and outcome.")
                     .Register(*registry);
  for (const std::string& name : names) {
    auto& counters = adapter_counters_[name];
    for (std::size_t o = 0; o < kAdapterOutcomeCount; ++o) {
      counters[o] = &family.Add(
          {{"adapter", name},
           {"outcome", std::string(adapter_outcome_label(static_cast<AdapterOutcome>(o)))}});
    }
  }
}

void DaemonMetrics::count_adapter_request(std::string_view adapter, AdapterOutcome outcome) {
  const auto found = adapter_counters_.find(adapter);
  if (found != adapter_counters_.end())
    found->second[static_cast<std::size_t>(outcome)]->Increment();
}

}  // namespace replywatch::server

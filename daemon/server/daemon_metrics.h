// The daemon's own metrics (the engine's figures are collected at scrape time by
// collect_engine_metrics): request refusals and rejections, rule reloads, the clock, shops,
// Alertmanager, and the state's snapshots and restores. One prometheus-cpp registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "adapter_outcome.h"
#include "basic_auth.h"
#include "refusal_reason.h"
#include "replywatch/event_codec.h"

namespace replywatch::server {

enum class Listener : std::uint8_t { kIngest, kAdmin };
inline constexpr std::array<const char*, 2> kListenerNames = {"ingest", "admin"};

struct DaemonMetrics {
  explicit DaemonMetrics(std::uint32_t max_shops);
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  prometheus::Counter& rejected(RejectReason reason) {
    return *rejected_counters[static_cast<std::size_t>(reason)];
  }
  prometheus::Counter& refused(Listener listener, RefusalReason reason) {
    return *refused_counters[static_cast<std::size_t>(listener)][static_cast<std::size_t>(reason)];
  }
  prometheus::Counter& login_failed(LoginFailure failure) {
    return *login_failure_counters[static_cast<std::size_t>(failure)];
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>& rejected_family;
  prometheus::Family<prometheus::Counter>& refused_family;
  prometheus::Gauge& reload_successful;
  prometheus::Gauge& reload_timestamp;
  prometheus::Family<prometheus::Gauge>& shops;
  prometheus::Gauge& clock_suspect;
  prometheus::Family<prometheus::Counter>& alerts_sent;
  prometheus::Family<prometheus::Counter>& alerts_failed;
  prometheus::Counter& alerts_dropped;

  // The event log.
  prometheus::Gauge& log_size;
  prometheus::Gauge& log_segments;
  prometheus::Counter& log_syncs;
  prometheus::Counter& log_write_errors;
  prometheus::Counter& log_torn_tails;
  prometheus::Counter& log_torn_bytes;
  prometheus::Counter& log_skipped;

  // Snapshots and restores.
  prometheus::Counter& snapshots_written;
  prometheus::Counter& snapshot_write_failures;
  prometheus::Counter& snapshot_load_failures;
  prometheus::Gauge& snapshot_last_success;
  prometheus::Gauge& snapshot_last_bytes;
  prometheus::Gauge& snapshot_last_duration;
  prometheus::Gauge& snapshot_last_stall;
  prometheus::Gauge& restore_duration;
  prometheus::Gauge& restore_records;

  // replywatch_adapter_requests_total{adapter,outcome}: every outcome of each configured adapter,
  // registered once at start (adapter names come from the config, so the labels are bounded).
  void register_adapters(std::span<const std::string> names);
  void count_adapter_request(std::string_view adapter, AdapterOutcome outcome);

 private:
  std::map<std::string, std::array<prometheus::Counter*, kAdapterOutcomeCount>, std::less<>>
      adapter_counters_;
  std::array<prometheus::Counter*, kRejectReasonCount> rejected_counters{};
  std::array<std::array<prometheus::Counter*, kRefusalReasonCount>, 2> refused_counters{};
  std::array<prometheus::Counter*, kLoginFailureCount> login_failure_counters{};
};

}  // namespace replywatch::server

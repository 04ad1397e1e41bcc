// Conversation-level alerts for Alertmanager (ReplyConversationAtRisk, ReplyConversationOverdue):
// which ones are active, which changed, which are due for a re-send. Pure bookkeeping fed by
// the engine's effects, with time passed in; sending is AlertmanagerClient's business.
//
// A notifier belongs to one EngineHost and learns the history too when the host is rebuilt from
// the journal. It stays silent (no resolutions, nothing marked to send) until go_live(), which
// compares what the rebuilt state has active with what the previous notifier had told
// Alertmanager: only the difference goes out, so a restart or a reload does not replay history.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "replywatch/engine.h"
#include "replywatch/time.h"

namespace replywatch::server {

struct NotifierSettings {
  // The admin listener as people reach it (scheme://host:port), for the at-risk link.
  std::string at_risk_base_url;
  // Active alerts are sent again this often; each carries endsAt = now + 4 x this, so an alert
  // of a dead daemon resolves by itself.
  Duration resend_interval = std::chrono::minutes(1);
  // An unanswered round stops paging this long after its deadline (without retirement a
  // forgotten conversation would page forever).
  Duration max_overdue = std::chrono::hours(24);
  // Rounds tracked at once; alerts beyond are dropped and counted.
  std::size_t max_active = 100'000;
};

class AlertNotifier final : public EffectSink {
 public:
  AlertNotifier(const Engine& engine, NotifierSettings settings);

  // --- EffectSink: the engine's effects, in event time ---
  void on_warning(const WarningRaised& effect) override;
  void on_round_decided(const RoundDecided& effect) override;
  void on_round_ended(const RoundEnded& effect) override;

  // Starts telling Alertmanager. `previous` is the notifier of the state this one replaces
  // (nullptr on start): alerts it had active and this one has not are resolved, alerts both
  // have keep their re-send schedule, the rest are new.
  void go_live(const AlertNotifier* previous, Instant now);
  bool live() const { return live_; }

  // Alertmanager API v2 alert objects (JSON text) to post now: resolutions, new and changed
  // alerts, and with `resend` the active ones whose interval has passed.
  std::vector<std::string> collect(Instant now, bool resend);

  std::size_t active_rounds() const { return active_.size(); }

  // The active alerts, for snapshots. A loaded notifier is not live: like a rebuilt one, it
  // goes live by comparing with what the state it replaces had sent (nothing, on start).
  void save(SnapshotWriter& out) const;
  void load(SnapshotReader& in);
  // Rounds not tracked because max_active was reached, since the last call.
  std::uint64_t take_dropped() { return std::exchange(dropped_, 0); }

 private:
  struct Active {
    std::string platform;
    std::string shop;
    std::string sla;
    std::string conversation;
    std::string_view severity;
    Instant due{};
    Instant at_risk_since{};
    std::optional<Instant> overdue_since;
    Instant last_sent = kInstantMin;
    bool dirty = false;
  };

  std::string key_of(SlaRef ref, std::string_view conversation) const;
  std::string_view severity_of(SlaRef ref) const;
  Active* track(SlaRef ref, std::string_view conversation, Instant due, Instant at_risk_since);
  void mark_dirty(const std::string& key, Active& active);
  // Resolved when ends_at is now.
  void append_alerts(const Active& active, Instant ends_at, std::vector<std::string>& out) const;

  const Engine& engine_;
  NotifierSettings settings_;
  bool live_ = false;
  std::unordered_map<std::string, Active> active_;
  std::vector<std::string> dirty_;  // keys of active_ changed since the last collect
  std::vector<Active> resolved_;    // ended since the last collect
  std::uint64_t dropped_ = 0;
};

}  // namespace replywatch::server

#include "alert_notifier.h"

#include <fmt/format.h>

#include <algorithm>

#include "replywatch/snapshot_codec.h"

namespace replywatch::server {
namespace {

constexpr std::string_view kAtRisk = "ReplyConversationAtRisk";
constexpr std::string_view kOverdue = "ReplyConversationOverdue";
constexpr std::string_view kPage = "page";
constexpr std::string_view kTicket = "ticket";
constexpr int kValidityIntervals = 4;  // endsAt = now + 4 re-send intervals, as Prometheus does

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

// Appends `text` as a JSON string. Written by hand: encoding is the notifier's hot path when
// thousands of rounds reach their warning point at once (see bench/alert_notifier_bench.cc).
void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

std::string join_key(std::string_view platform, std::string_view shop, std::string_view sla,
                     std::string_view conversation) {
  return fmt::format("{}\x1f{}\x1f{}\x1f{}", platform, shop, sla, conversation);
}

}  // namespace

AlertNotifier::AlertNotifier(const Engine& engine, NotifierSettings settings)
    : engine_(engine), settings_(std::move(settings)) {}

std::string AlertNotifier::key_of(SlaRef ref, std::string_view conversation) const {
  // Names, not indices: a rebuilt engine numbers shops afresh, and go_live compares across.
  const PlatformRules& platform = engine_.rules().platforms[ref.platform];
  return join_key(platform.platform, engine_.shop_name(ref.shop), platform.slas[ref.sla].name,
                  conversation);
}

std::string_view AlertNotifier::severity_of(SlaRef ref) const {
  const Sla& sla = engine_.rules().platforms[ref.platform].slas[ref.sla];
  if (sla.kind != SlaKind::kReplyTime) return {};
  switch (sla.notify) {
    case NotifySeverity::kPage:
      return kPage;
    case NotifySeverity::kTicket:
      return kTicket;
    case NotifySeverity::kNone:
      break;
  }
  return {};
}

AlertNotifier::Active* AlertNotifier::track(SlaRef ref, std::string_view conversation, Instant due,
                                            Instant at_risk_since) {
  const std::string_view severity = severity_of(ref);
  if (severity.empty()) return nullptr;
  std::string key = key_of(ref, conversation);
  auto found = active_.find(key);
  if (found != active_.end()) return &found->second;
  if (active_.size() >= settings_.max_active) {
    ++dropped_;
    return nullptr;
  }
  const PlatformRules& platform = engine_.rules().platforms[ref.platform];
  Active active;
  active.platform = platform.platform;
  active.shop = engine_.shop_name(ref.shop);
  active.sla = platform.slas[ref.sla].name;
  active.conversation = std::string(conversation);
  active.severity = severity;
  active.due = due;
  active.at_risk_since = at_risk_since;
  auto [it, inserted] = active_.emplace(std::move(key), std::move(active));
  mark_dirty(it->first, it->second);
  return &it->second;
}

void AlertNotifier::mark_dirty(const std::string& key, Active& active) {
  if (!live_ || active.dirty) return;
  active.dirty = true;
  dirty_.push_back(key);
}

void AlertNotifier::on_warning(const WarningRaised& effect) {
  track(effect.ref, effect.conversation, effect.due, effect.at);
}

void AlertNotifier::on_round_decided(const RoundDecided& effect) {
  // A breach: the deadline passed unanswered. An SLA without a warning starts its at-risk
  // alert here too.
  if (effect.answered || effect.met) return;
  Active* active = track(effect.ref, effect.conversation, effect.at, effect.at);
  if (active == nullptr || active->overdue_since) return;
  active->overdue_since = effect.at;
  mark_dirty(key_of(effect.ref, effect.conversation), *active);
}

void AlertNotifier::on_round_ended(const RoundEnded& effect) {
  if (severity_of(effect.ref).empty()) return;
  const auto found = active_.find(key_of(effect.ref, effect.conversation));
  if (found == active_.end()) return;
  if (live_) resolved_.push_back(std::move(found->second));
  active_.erase(found);
}

void AlertNotifier::go_live(const AlertNotifier* previous, Instant now) {
  // Rounds past max_overdue were never paged by this state; they leave without a word.
  std::erase_if(active_,
                [&](const auto& entry) { return entry.second.due + settings_.max_overdue <= now; });
  dirty_.clear();
  for (auto& [key, active] : active_) {
    active.dirty = false;
    if (previous != nullptr) {
      const auto known = previous->active_.find(key);
      if (known != previous->active_.end() &&
          known->second.overdue_since.has_value() == active.overdue_since.has_value()) {
        active.last_sent = known->second.last_sent;
        continue;
      }
    }
    active.dirty = true;
    dirty_.push_back(key);
  }
  if (previous != nullptr) {
    for (const auto& [key, active] : previous->active_) {
      if (!active_.contains(key)) resolved_.push_back(active);
    }
    for (const Active& resolved : previous->resolved_) {
      if (!active_.contains(
              join_key(resolved.platform, resolved.shop, resolved.sla, resolved.conversation))) {
        resolved_.push_back(resolved);
      }
    }
  }
  live_ = true;
}

std::vector<std::string> AlertNotifier::collect(Instant now, bool resend) {
  std::vector<std::string> out;
  if (!live_) return out;
  const Instant ends_at = now + kValidityIntervals * settings_.resend_interval;
  for (const Active& resolved : resolved_) append_alerts(resolved, now, out);
  resolved_.clear();
  if (resend) {
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->second.due + settings_.max_overdue <= now) {
        append_alerts(it->second, now, out);
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& key : dirty_) {
    const auto found = active_.find(key);
    if (found == active_.end() || !found->second.dirty) continue;
    found->second.dirty = false;
    found->second.last_sent = now;
    append_alerts(found->second, ends_at, out);
  }
  dirty_.clear();
  if (resend) {
    for (auto& [key, active] : active_) {
      if (active.last_sent + settings_.resend_interval > now) continue;
      active.last_sent = now;
      append_alerts(active, ends_at, out);
    }
  }
  return out;
}

void AlertNotifier::append_alerts(const Active& active, Instant ends_at,
                                  std::vector<std::string>& out) const {
  const std::string link =
      fmt::format("{}/v1/at-risk?platform={}&shop={}", settings_.at_risk_base_url,
                  percent_encode(active.platform), percent_encode(active.shop));
  const std::string due = format_rfc3339(active.due);
  const std::string ends = format_rfc3339(ends_at);
  auto alert = [&](std::string_view name, Instant starts_at, const std::string& summary) {
    // Alertmanager refuses an alert that ends before it starts (a clock stepped back).
    const Instant starts = std::min(starts_at, ends_at);
    std::string json;
    json.reserve(512 + summary.size());
    json += R"({"labels":{"alertname":)";
    append_json_string(json, name);
    json += R"(,"platform":)";
    append_json_string(json, active.platform);
    json += R"(,"shop":)";
    append_json_string(json, active.shop);
    json += R"(,"sla":)";
    append_json_string(json, active.sla);
    json += R"(,"conversation":)";
    append_json_string(json, active.conversation);
    json += R"(,"severity":)";
    append_json_string(json, active.severity);
    json += R"(},"annotations":{"summary":)";
    append_json_string(json, summary);
    json += R"(,"due":)";
    append_json_string(json, due);
    json += R"(,"at_risk_url":)";
    append_json_string(json, link);
    json += R"(},"startsAt":)";
    append_json_string(json, format_rfc3339(starts));
    json += R"(,"endsAt":)";
    append_json_string(json, ends);
    json += R"(,"generatorURL":)";
    append_json_string(json, link);
    json += "}";
    out.push_back(std::move(json));
  };
  alert(kAtRisk, active.at_risk_since,
        fmt::format("{} ({}): conversation {} is still unanswered under {}; due {}. Answer it "
                    "now.",
                    active.shop, active.platform, active.conversation, active.sla, due));
  if (active.overdue_since) {
    alert(kOverdue, *active.overdue_since,
          fmt::format("{} ({}): conversation {} missed its {} deadline ({}) and the buyer is "
                      "still waiting. Answer it now.",
                      active.shop, active.platform, active.conversation, active.sla, due));
  }
}

void AlertNotifier::save(SnapshotWriter& out) const {
  // By key, so that equal states give equal bytes whatever the hash map's order.
  std::vector<const std::pair<const std::string, Active>*> entries;
  entries.reserve(active_.size());
  for (const auto& entry : active_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  out.u64(entries.size());
  for (const auto* entry : entries) {
    const Active& active = entry->second;
    out.string(active.platform);
    out.string(active.shop);
    out.string(active.sla);
    out.string(active.conversation);
    out.u8(active.severity == kPage ? 1 : 2);
    out.instant(active.due);
    out.instant(active.at_risk_since);
    out.boolean(active.overdue_since.has_value());
    out.instant(active.overdue_since.value_or(Instant{}));
    out.instant(active.last_sent);
  }
  out.u64(dropped_);
}

void AlertNotifier::load(SnapshotReader& in) {
  active_.clear();
  dirty_.clear();
  resolved_.clear();
  live_ = false;
  const std::size_t n = in.count(74);
  for (std::size_t i = 0; i < n; ++i) {
    Active active;
    active.platform = in.string();
    active.shop = in.string();
    active.sla = in.string();
    active.conversation = in.string();
    const std::uint8_t severity = in.u8();
    if (severity != 1 && severity != 2) in.fail("an unknown alert severity");
    active.severity = severity == 1 ? kPage : kTicket;
    active.due = in.instant();
    active.at_risk_since = in.instant();
    const bool overdue = in.boolean();
    const Instant overdue_since = in.instant();
    if (overdue) active.overdue_since = overdue_since;
    active.last_sent = in.instant();
    std::string key = join_key(active.platform, active.shop, active.sla, active.conversation);
    if (!active_.emplace(std::move(key), std::move(active)).second) in.fail("an alert twice");
  }
  dropped_ = in.u64();
}

}  // namespace replywatch::server

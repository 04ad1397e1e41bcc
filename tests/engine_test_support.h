// Helpers shared by the engine scenario tests: instants, rule sets from inline YAML, event
// builders, a recording effect sink and a replay-style driver.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "replywatch/engine.h"
#include "replywatch/event.h"
#include "replywatch/rule_loader.h"
#include "replywatch/rule_set.h"
#include "replywatch/time.h"

namespace rwtest {

using replywatch::Duration;
using replywatch::Event;
using replywatch::EventType;
using replywatch::Instant;

// An instant from RFC 3339 text; fails the test on bad text.
inline Instant T(std::string_view text) {
  const auto parsed = replywatch::parse_rfc3339(text);
  INFO("timestamp " << std::string(text));
  REQUIRE(parsed.has_value());
  return *parsed;
}

inline Duration ms(std::int64_t n) { return Duration(n); }
inline Duration sec(std::int64_t n) { return Duration(n * 1000); }
inline Duration mins(std::int64_t n) { return Duration(n * 60'000); }

// A rule set from one inline YAML file; fails the test on loader errors.
inline std::shared_ptr<const replywatch::RuleSet> rules_from_yaml(std::string_view yaml) {
  auto result = replywatch::load_rule_text(yaml, "test.yaml");
  for (const auto& error : result.errors) UNSCOPED_INFO(error.to_string());
  REQUIRE(result.ok());
  return std::make_shared<const replywatch::RuleSet>(std::move(result.rules));
}

// Several single-platform files merged into one rule set (sorted by platform name).
inline std::shared_ptr<const replywatch::RuleSet> rules_from_yamls(
    const std::vector<std::string>& yamls) {
  replywatch::RuleSet set;
  for (const auto& yaml : yamls) {
    auto result = replywatch::load_rule_text(yaml, "test.yaml");
    for (const auto& error : result.errors) UNSCOPED_INFO(error.to_string());
    REQUIRE(result.ok());
    for (auto& platform : result.rules.platforms) set.platforms.push_back(std::move(platform));
  }
  std::sort(set.platforms.begin(), set.platforms.end(),
            [](const auto& a, const auto& b) { return a.platform < b.platform; });
  return std::make_shared<const replywatch::RuleSet>(std::move(set));
}

inline Event make_event(EventType type, std::string id, std::string shop, std::string conversation,
                        Instant ts, std::string platform = "tmall") {
  Event event;
  event.id = std::move(id);
  event.platform = std::move(platform);
  event.shop = std::move(shop);
  event.conversation = std::move(conversation);
  event.type = type;
  event.ts = ts;
  return event;
}

inline Event buyer(std::string id, std::string shop, std::string conversation, Instant ts,
                   std::string platform = "tmall") {
  return make_event(EventType::kBuyerMessage, std::move(id), std::move(shop),
                    std::move(conversation), ts, std::move(platform));
}

inline Event agent_msg(std::string id, std::string shop, std::string conversation, Instant ts,
                       std::string platform = "tmall") {
  Event event = make_event(EventType::kAgentMessage, std::move(id), std::move(shop),
                           std::move(conversation), ts, std::move(platform));
  event.agent = "a1";
  return event;
}

inline Event bot_msg(std::string id, std::string shop, std::string conversation, Instant ts,
                     std::string bot, std::string platform = "tmall") {
  Event event = make_event(EventType::kBotMessage, std::move(id), std::move(shop),
                           std::move(conversation), ts, std::move(platform));
  event.bot = std::move(bot);
  return event;
}

inline Event closed(std::string id, std::string shop, std::string conversation, Instant ts,
                    std::string platform = "tmall") {
  return make_event(EventType::kConversationClosed, std::move(id), std::move(shop),
                    std::move(conversation), ts, std::move(platform));
}

inline Event status(std::string id, std::string shop, std::string agent, bool online, Instant ts,
                    std::string platform = "tmall") {
  Event event = make_event(EventType::kAgentStatus, std::move(id), std::move(shop), "", ts,
                           std::move(platform));
  event.agent = std::move(agent);
  event.online = online;
  return event;
}

// Records every effect, with the shop name resolved.
class RecordingSink : public replywatch::EffectSink {
 public:
  explicit RecordingSink(const replywatch::Engine* engine = nullptr) : engine_(engine) {}
  void attach(const replywatch::Engine* engine) { engine_ = engine; }

  struct Decided {
    std::string shop;
    std::uint32_t sla;
    replywatch::RoundDecided effect;
    std::string conversation;  // the effect's view is valid only during the call
  };
  struct Warning {
    std::string shop;
    std::uint32_t sla;
    replywatch::WarningRaised effect;
    std::string conversation;
  };
  struct Ended {
    std::string shop;
    std::uint32_t sla;
    std::string conversation;  // the effect's view is valid only during the call
    replywatch::RoundEnded effect;
  };
  struct Incident {
    std::string shop;
    std::uint32_t sla;
    replywatch::PresenceIncident effect;
  };

  void on_round_decided(const replywatch::RoundDecided& effect) override {
    decided.push_back({engine_->shop_name(effect.ref.shop), effect.ref.sla, effect,
                       std::string(effect.conversation)});
    decided.back().effect.conversation = {};
  }
  void on_warning(const replywatch::WarningRaised& effect) override {
    warnings.push_back({engine_->shop_name(effect.ref.shop), effect.ref.sla, effect,
                        std::string(effect.conversation)});
    warnings.back().effect.conversation = {};
  }
  void on_round_ended(const replywatch::RoundEnded& effect) override {
    ended.push_back({engine_->shop_name(effect.ref.shop), effect.ref.sla,
                     std::string(effect.conversation), effect});
    ended.back().effect.conversation = {};
  }
  void on_presence_incident(const replywatch::PresenceIncident& effect) override {
    incidents.push_back({engine_->shop_name(effect.ref.shop), effect.ref.sla, effect});
  }

  std::vector<Decided> decided_for(std::string_view shop, std::uint32_t sla) const {
    std::vector<Decided> out;
    for (const auto& d : decided)
      if (d.shop == shop && d.sla == sla) out.push_back(d);
    return out;
  }
  std::vector<Warning> warnings_for(std::string_view shop, std::uint32_t sla) const {
    std::vector<Warning> out;
    for (const auto& w : warnings)
      if (w.shop == shop && w.sla == sla) out.push_back(w);
    return out;
  }
  std::vector<Ended> ended_for(std::string_view shop, std::uint32_t sla) const {
    std::vector<Ended> out;
    for (const auto& e : ended)
      if (e.shop == shop && e.sla == sla) out.push_back(e);
    return out;
  }
  std::vector<Incident> incidents_for(std::string_view shop, std::uint32_t sla) const {
    std::vector<Incident> out;
    for (const auto& i : incidents)
      if (i.shop == shop && i.sla == sla) out.push_back(i);
    return out;
  }

  std::vector<Decided> decided;
  std::vector<Warning> warnings;
  std::vector<Ended> ended;
  std::vector<Incident> incidents;

 private:
  const replywatch::Engine* engine_;
};

// An engine with a recording sink.
struct Harness {
  explicit Harness(std::shared_ptr<const replywatch::RuleSet> rules,
                   replywatch::EngineOptions options = {})
      : engine(std::move(rules), options), sink(&engine) {
    engine.set_effect_sink(&sink);
  }

  // Offers every event (no advancing in between).
  void offer_all(const std::vector<Event>& events) {
    for (const auto& event : events) engine.offer(event);
  }

  // Offers like replay does: after each event, advance to max ts seen - lateness.
  void replay(const std::vector<Event>& events, Duration lateness = sec(2)) {
    for (const auto& event : events) {
      if (!max_seen || event.ts > *max_seen) max_seen = event.ts;
      engine.offer(event);
      engine.advance(*max_seen - lateness);
    }
  }

  replywatch::SlaFigures fig(Instant at, std::string_view shop, std::string_view sla,
                             std::string_view platform = "tmall") const {
    const auto all = engine.figures(at);
    for (const auto& f : all) {
      if (f.platform == platform && f.shop == shop && f.sla == sla) return f;
    }
    FAIL("no figures for " << std::string(platform) << "/" << std::string(shop) << "/"
                           << std::string(sla));
    return {};
  }

  // Advances through `until` and returns the figures there.
  replywatch::SlaFigures at(Instant until, std::string_view shop, std::string_view sla,
                            std::string_view platform = "tmall") {
    engine.advance_through(until);
    return fig(until, shop, sla, platform);
  }

  replywatch::Engine engine;
  RecordingSink sink;
  std::optional<Instant> max_seen;
};

}  // namespace rwtest

#include "replywatch/replay_session.h"

#include <algorithm>

namespace replywatch {

ReplaySession::ReplaySession(std::shared_ptr<const RuleSet> rules, ReplayOptions options)
    : options_(options),
      engine_(std::move(rules), EngineOptions{options.dedup_retention}),
      shops_(engine_.rules(), options.max_shops) {
  if (options_.until) engine_.set_apply_limit(*options_.until);
}

std::optional<Rejection> ReplaySession::feed_line(std::string_view line) {
  const bool blank = std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
  if (blank) return std::nullopt;
  const RuleSet& rules = engine_.rules();
  return offer(decode_event_text(
      line, [&rules](std::string_view platform) { return rules.find(platform) != nullptr; }));
}

std::optional<Rejection> ReplaySession::feed(const boost::json::value& value) {
  const RuleSet& rules = engine_.rules();
  return offer(decode_event(
      value, [&rules](std::string_view platform) { return rules.find(platform) != nullptr; }));
}

std::optional<Rejection> ReplaySession::feed_logged(Event event, Instant watermark,
                                                    bool continues_request) {
  if (engine_.rules().find(event.platform) == nullptr) {
    ++rejected_;
    return Rejection{RejectReason::kUnknownPlatform, "platform"};
  }
  if (shops_.admit(event.platform, event.shop) == ShopAdmission::Verdict::kRefused) {
    ++rejected_;
    return Rejection{RejectReason::kTooManyShops, "shop"};
  }
  if (!continues_request) engine_.advance(watermark);
  const Instant ts = event.ts;
  if (!engine_.offer(std::move(event)).duplicate) {
    largest_accepted_ts_ = largest_accepted_ts_ ? std::max(*largest_accepted_ts_, ts) : ts;
  }
  return std::nullopt;
}

std::optional<Rejection> ReplaySession::offer(std::variant<Event, Rejection> decoded) {
  if (auto* rejection = std::get_if<Rejection>(&decoded)) {
    ++rejected_;
    return *rejection;
  }
  Event& event = std::get<Event>(decoded);
  // Validation before dedup, as live: a refused shop's event is never a duplicate.
  if (shops_.admit(event.platform, event.shop) == ShopAdmission::Verdict::kRefused) {
    ++rejected_;
    return Rejection{RejectReason::kTooManyShops, "shop"};
  }
  const Instant ts = event.ts;
  const OfferResult result = engine_.offer(std::move(event));
  if (!result.duplicate) {
    largest_accepted_ts_ = largest_accepted_ts_ ? std::max(*largest_accepted_ts_, ts) : ts;
    engine_.advance(*largest_accepted_ts_ - options_.allowed_lateness);
  }
  return std::nullopt;
}

ReplayReport ReplaySession::finish() {
  const Instant until =
      options_.until.value_or(largest_accepted_ts_.value_or(Instant(Duration(0))));
  engine_.advance_through(until);
  ReplayReport report;
  report.until = until;
  const EventCounters& counters = engine_.counters();
  report.accepted = counters.accepted;
  report.duplicates = counters.duplicates;
  report.late = counters.late;
  report.rejected = rejected_;
  report.slas = engine_.figures(until);
  return report;
}

}  // namespace replywatch

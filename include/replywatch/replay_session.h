// Drives the engine over recorded events exactly as docs/operations.md (replay) says: the reorder
// buffer runs with the watermark at the largest accepted ts - allowed lateness, and at the end time
// advances to `until`. Pure: lines in, a report out; reading files is the caller's business.
#pragma once

#include <optional>
#include <string_view>

#include "replywatch/engine.h"
#include "replywatch/event_codec.h"
#include "replywatch/report.h"
#include "replywatch/shop_admission.h"

namespace replywatch {

struct ReplayOptions {
  Duration allowed_lateness = std::chrono::seconds(2);
  Duration dedup_retention = std::chrono::hours(24);
  std::optional<Instant> until;                // default: the largest ts among accepted events
  std::uint32_t max_shops = kDefaultMaxShops;  // as the daemon's max_shops; 0: no cap
};

class ReplaySession {
 public:
  ReplaySession(std::shared_ptr<const RuleSet> rules, ReplayOptions options);

  // One NDJSON line. Blank lines are skipped (nothing returned); a rejected line returns its
  // rejection; an accepted or duplicate one returns nothing.
  std::optional<Rejection> feed_line(std::string_view line);

  // One decoded event, for callers that parse differently.
  std::optional<Rejection> feed(const boost::json::value& value);

  // One event of the daemon's event log, applied as the daemon applied it: at the first event
  // of a request the engine is advanced to the watermark recorded with it, instead of following
  // event time, so late events land exactly as they did live. Its platform need not be loaded
  // (then it is rejected as unknown_platform).
  std::optional<Rejection> feed_logged(Event event, Instant watermark, bool continues_request);

  // Advances to `until` and reports. Call once.
  ReplayReport finish();

  Engine& engine() { return engine_; }

 private:
  std::optional<Rejection> offer(std::variant<Event, Rejection> decoded);

  ReplayOptions options_;
  Engine engine_;
  ShopAdmission shops_;
  std::uint64_t rejected_ = 0;
  std::optional<Instant> largest_accepted_ts_;
};

}  // namespace replywatch

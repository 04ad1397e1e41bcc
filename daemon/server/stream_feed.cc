#include "stream_feed.h"

#include <algorithm>

namespace replywatch::server {

StreamFeed::StreamFeed(std::vector<std::uint32_t> partitions, Duration allowed_lateness)
    : clock_(std::move(partitions), allowed_lateness), allowed_lateness_(allowed_lateness) {}

void StreamFeed::start(EngineHost& host, storage::Sequence position,
                       storage::Sequence stream_last) {
  host_ = &host;
  clock_.started(position, stream_last);
}

void StreamFeed::advance(Instant now) {
  if (const std::optional<Instant> watermark = clock_.watermark(now)) {
    host_->engine().advance(*watermark);
  }
}

void StreamFeed::apply(std::vector<storage::LoggedRecord>& records, std::uint64_t pending,
                       storage::Sequence next, Instant now) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    storage::LoggedRecord& logged = records[i];
    // Offered where the ingesting node's engine stood when it published the message (never
    // past this node's wall clock), as a local restart follows its log: so a backlog is applied
    // in event time and none of it is late. A current consumer already stands there or later.
    const Instant at = std::min(logged.record.watermark, now - allowed_lateness_);
    if (at > host_->engine().watermark()) host_->engine().advance(at);
    logged.record.continues_batch = true;  // advanced above, not again
    const JournalLineResult result = host_->replay_record(logged.record);
    if (result == JournalLineResult::kApplied || result == JournalLineResult::kDuplicate) {
      ++counts_.applied;
    } else {
      ++counts_.skipped;
    }
    // Records later in the batch are still to be applied after this one. The engine moves on
    // only before the next record of a later watermark (above) or after the batch: the events
    // one request published share its watermark and are offered together, as the ingesting
    // node's own log would replay them, so a late buyer message and its reply in the same
    // request are not split by the deadline between them.
    clock_.applied(logged.sequence, logged.record.watermark, pending + (records.size() - 1 - i));
  }
  clock_.passed(next);
  advance(now);
}

void StreamFeed::tick(Instant now) { advance(now); }

}  // namespace replywatch::server

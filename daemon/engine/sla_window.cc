#include "sla_window.h"

#include <algorithm>

namespace replywatch {

void SlaWindow::add(std::int64_t bucket, std::int64_t current_bucket, bool met, bool breached,
                    Duration cost) {
  while (!buckets_.empty() && buckets_.front().id <= current_bucket - bucket_count_) {
    buckets_.pop_front();
  }
  if (bucket <= current_bucket - bucket_count_) return;
  // Rounds are mostly decided in start order, so the bucket is nearly always the last one.
  auto position = buckets_.end();
  while (position != buckets_.begin() && std::prev(position)->id > bucket) --position;
  if (position == buckets_.begin() || std::prev(position)->id != bucket) {
    position = buckets_.insert(position, Bucket{bucket});
  } else {
    --position;
  }
  ++position->decided;
  if (met) ++position->met;
  if (breached) ++position->breached;
  position->cost += cost;
}

WindowTotals SlaWindow::totals(std::int64_t current_bucket) const {
  WindowTotals totals;
  for (auto it = buckets_.rbegin(); it != buckets_.rend(); ++it) {
    if (it->id > current_bucket) continue;
    if (!in_window(it->id, current_bucket)) break;
    totals.decided += it->decided;
    totals.met += it->met;
    totals.breached += it->breached;
    totals.cost += it->cost;
  }
  return totals;
}

void SlaWindow::save(SnapshotWriter& out) const {
  out.u32(bucket_count_);
  out.u64(buckets_.size());
  for (const Bucket& bucket : buckets_) {
    out.i64(bucket.id);
    out.u32(bucket.decided);
    out.u32(bucket.met);
    out.u32(bucket.breached);
    out.duration(bucket.cost);
  }
}

void SlaWindow::load(SnapshotReader& in) {
  if (in.u32() != bucket_count_) in.fail("a window of another bucket count");
  buckets_.clear();
  const std::size_t n = in.count(28);
  for (std::size_t i = 0; i < n; ++i) {
    Bucket bucket;
    bucket.id = in.i64();
    bucket.decided = in.u32();
    bucket.met = in.u32();
    bucket.breached = in.u32();
    bucket.cost = in.duration();
    if (!buckets_.empty() && bucket.id <= buckets_.back().id)
      in.fail("window buckets out of order");
    buckets_.push_back(bucket);
  }
}

}  // namespace replywatch

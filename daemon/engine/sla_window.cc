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

}  // namespace replywatch

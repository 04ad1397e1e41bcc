// A sliding window of decided rounds, in buckets (docs/rules.md, "Windows, objectives and error
// budgets"). Only non-empty buckets are kept, so a 30-day window of 1-minute buckets costs nothing
// for the minutes without rounds.
#pragma once

#include <cstdint>
#include <deque>

#include "replywatch/snapshot_codec.h"
#include "replywatch/time.h"

namespace replywatch {

struct WindowTotals {
  std::uint64_t decided = 0;
  std::uint64_t met = 0;
  std::uint64_t breached = 0;
  Duration cost{0};
};

class SlaWindow {
 public:
  // `bucket_count` buckets end with (and include) the current bucket.
  explicit SlaWindow(std::uint32_t bucket_count) : bucket_count_(bucket_count) {}

  // Records one decided round in the bucket holding its start. `current_bucket` is the bucket
  // of the decision instant; rounds whose bucket already left the window are dropped.
  void add(std::int64_t bucket, std::int64_t current_bucket, bool met, bool breached,
           Duration cost);

  WindowTotals totals(std::int64_t current_bucket) const;

  std::size_t bucket_count_held() const { return buckets_.size(); }

  // The buckets held; load() expects a window of the same bucket count.
  void save(SnapshotWriter& out) const;
  void load(SnapshotReader& in);

 private:
  struct Bucket {
    std::int64_t id = 0;
    std::uint32_t decided = 0;
    std::uint32_t met = 0;
    std::uint32_t breached = 0;
    Duration cost{0};
  };

  bool in_window(std::int64_t bucket, std::int64_t current_bucket) const {
    return bucket > current_bucket - bucket_count_ && bucket <= current_bucket;
  }

  std::uint32_t bucket_count_;
  std::deque<Bucket> buckets_;  // ascending id
};

}  // namespace replywatch

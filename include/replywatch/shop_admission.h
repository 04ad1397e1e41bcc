// Which shops may have events (docs/events.md: shops are free strings any producer can invent; each
// costs series in /metrics and rows in every report). A shop is admitted at its first event while
// its platform has fewer than `max_shops` admitted shops, or whenever it is on the platform's
// allow-list (rule file `shops:`); once admitted it stays. The live daemon and replay admit in
// the same order, so they agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "replywatch/rule_set.h"

namespace replywatch {

class SnapshotReader;
class SnapshotWriter;

inline constexpr std::uint32_t kDefaultMaxShops = 1000;

class ShopAdmission {
 public:
  enum class Verdict { kKnown, kAdmitted, kRefused };

  // `max_shops` per platform; 0: no cap.
  ShopAdmission(const RuleSet& rules, std::uint32_t max_shops);

  // The verdict for an event of `shop`; kAdmitted records the shop.
  Verdict admit(std::string_view platform, std::string_view shop);
  // Undoes a kAdmitted whose event was never taken.
  void forget(std::string_view platform, std::string_view shop);

  std::size_t admitted(std::uint32_t platform) const { return platforms_[platform].shops.size(); }
  std::uint32_t max_shops() const { return max_shops_; }

  // The admitted shops, by platform; load() takes the same rules' admission with none admitted.
  void save(SnapshotWriter& out) const;
  void load(SnapshotReader& in);

 private:
  struct PlatformShops {
    std::unordered_set<std::string> shops;
    const std::vector<std::string>* allowed = nullptr;  // the rule file's list, when it has one
  };
  PlatformShops* find(std::string_view platform);

  const RuleSet& rules_;
  std::uint32_t max_shops_;
  std::vector<PlatformShops> platforms_;
};

}  // namespace replywatch

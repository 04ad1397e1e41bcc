#include "replywatch/shop_admission.h"

#include <algorithm>
#include <vector>

#include "replywatch/snapshot_codec.h"

namespace replywatch {

ShopAdmission::ShopAdmission(const RuleSet& rules, std::uint32_t max_shops)
    : rules_(rules), max_shops_(max_shops), platforms_(rules.platforms.size()) {
  for (std::size_t p = 0; p < rules.platforms.size(); ++p) {
    if (!rules.platforms[p].allowed_shops.empty()) {
      platforms_[p].allowed = &rules.platforms[p].allowed_shops;
    }
  }
}

ShopAdmission::PlatformShops* ShopAdmission::find(std::string_view platform) {
  const PlatformRules* rules = rules_.find(platform);
  if (rules == nullptr) return nullptr;
  return &platforms_[static_cast<std::size_t>(rules - rules_.platforms.data())];
}

ShopAdmission::Verdict ShopAdmission::admit(std::string_view platform, std::string_view shop) {
  PlatformShops* shops = find(platform);
  if (shops == nullptr) return Verdict::kRefused;
  const std::string name(shop);
  if (shops->shops.contains(name)) return Verdict::kKnown;
  if (shops->allowed != nullptr) {
    // An allow-list names every shop the platform may have; the cap does not apply.
    if (std::find(shops->allowed->begin(), shops->allowed->end(), name) == shops->allowed->end()) {
      return Verdict::kRefused;
    }
  } else if (max_shops_ != 0 && shops->shops.size() >= max_shops_) {
    return Verdict::kRefused;
  }
  shops->shops.insert(name);
  return Verdict::kAdmitted;
}

void ShopAdmission::forget(std::string_view platform, std::string_view shop) {
  if (PlatformShops* shops = find(platform)) shops->shops.erase(std::string(shop));
}

void ShopAdmission::save(SnapshotWriter& out) const {
  out.u64(platforms_.size());
  for (std::size_t p = 0; p < platforms_.size(); ++p) {
    out.string(rules_.platforms[p].platform);
    std::vector<const std::string*> names;
    names.reserve(platforms_[p].shops.size());
    for (const std::string& name : platforms_[p].shops) names.push_back(&name);
    std::sort(names.begin(), names.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    out.u64(names.size());
    for (const std::string* name : names) out.string(*name);
  }
}

void ShopAdmission::load(SnapshotReader& in) {
  if (in.count(16) != platforms_.size()) in.fail("another number of platforms");
  for (std::size_t p = 0; p < platforms_.size(); ++p) {
    if (in.string() != rules_.platforms[p].platform) in.fail("another platform");
    PlatformShops& shops = platforms_[p];
    shops.shops.clear();
    const std::size_t n = in.count(8);
    for (std::size_t i = 0; i < n; ++i) {
      if (!shops.shops.insert(in.string()).second) in.fail("a shop admitted twice");
    }
  }
}

}  // namespace replywatch

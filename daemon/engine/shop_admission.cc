#include "replywatch/shop_admission.h"

#include <algorithm>

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

}  // namespace replywatch

#include "platform_schema.h"

#include <date/tz.h>
#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <array>
#include <exception>
#include <set>

#include "service_hours_schema.h"
#include "sla_schema.h"
#include "yaml_checker.h"

namespace replywatch::rules {
namespace {

constexpr std::array<std::string_view, 7> kTopLevelKeys = {
    "platform", "timezone", "service_hours", "sessions", "replies", "slas", "shops"};
constexpr std::size_t kMaxShopBytes = 128;  // the shop bound of docs/events.md
constexpr std::array<std::string_view, 1> kSessionsKeys = {"idle_timeout"};
constexpr std::array<std::string_view, 1> kRepliesKeys = {"counted_bots"};

bool is_platform_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

class PlatformSchema {
 public:
  explicit PlatformSchema(YamlChecker& checker) : checker_(checker) {}

  std::optional<PlatformRules> platform_rules(const YAML::Node& root) {
    const Field root_field{"a rule file", root, position_of(root.Mark())};
    const std::optional<Mapping> map = checker_.mapping(root_field, kTopLevelKeys);
    if (!map) return std::nullopt;
    PlatformRules result;
    result.file = checker_.file();

    if (const std::optional<Field> f = checker_.required(*map, "platform")) {
      if (verdict_.take(platform_name(*f), result.platform)) {
        platform_ = result.platform;
        platform_at_ = f->at;
      }
    } else {
      verdict_.fail();
    }
    if (const std::optional<Field> f = checker_.required(*map, "timezone")) {
      if (verdict_.take(time_zone(*f), result.timezone)) result.timezone_name = f->node.Scalar();
    } else {
      verdict_.fail();
    }
    const Entry* hours = map->find("service_hours");
    if (hours != nullptr) {
      result.service_hours = check_service_hours(checker_, hours->field());
      if (!result.service_hours) verdict_.fail();
    }
    if (const Entry* sessions = map->find("sessions")) idle_timeout(sessions->field(), result);
    if (const Entry* replies = map->find("replies")) counted_bots(replies->field(), result);
    if (const Entry* shops = map->find("shops")) allowed_shops(shops->field(), result);
    if (const std::optional<Field> f = checker_.required(*map, "slas")) {
      slas(*f, hours != nullptr, result);
    } else {
      verdict_.fail();
    }
    if (!verdict_.ok()) return std::nullopt;
    return result;
  }

  const std::optional<std::string>& platform() const { return platform_; }
  SourcePosition platform_at() const { return platform_at_; }

 private:
  std::optional<std::string> platform_name(const Field& field) {
    const std::optional<std::string> name = checker_.scalar(field, "a name like tmall");
    if (!name) return std::nullopt;
    if (!is_platform_name(*name)) {
      checker_.report(field.at, fmt::format("bad platform {}, expected lowercase letters, digits, "
                                            "_ and -",
                                            in_quotes(*name)));
      return std::nullopt;
    }
    return name;
  }

  std::optional<const date::time_zone*> time_zone(const Field& field) {
    const std::optional<std::string> name =
        checker_.scalar(field, "a time zone like Asia/Shanghai");
    if (!name) return std::nullopt;
    // The tz database has these too, but they name the host's setting, not a place.
    if (*name == "localtime" || *name == "posixrules" || name->starts_with("posix/") ||
        name->starts_with("right/")) {
      checker_.report(field.at, fmt::format("time zone {} depends on the host, expected an IANA "
                                            "name like Asia/Shanghai",
                                            in_quotes(*name)));
      return std::nullopt;
    }
    try {
      return date::locate_zone(*name);
    } catch (const std::exception&) {
      checker_.report(field.at, fmt::format("unknown time zone {}, expected an IANA name like "
                                            "Asia/Shanghai",
                                            in_quotes(*name)));
      return std::nullopt;
    }
  }

  void idle_timeout(const Field& field, PlatformRules& result) {
    const std::optional<Mapping> map = checker_.mapping(field, kSessionsKeys);
    if (!map) {
      verdict_.fail();
      return;
    }
    if (const Entry* idle = map->find("idle_timeout")) {
      verdict_.take(checker_.duration(idle->field(), true), result.idle_timeout);
    }
  }

  void counted_bots(const Field& field, PlatformRules& result) {
    const std::optional<Mapping> map = checker_.mapping(field, kRepliesKeys);
    if (!map) {
      verdict_.fail();
      return;
    }
    const Entry* bots = map->find("counted_bots");
    if (bots == nullptr) return;
    const std::optional<std::vector<Field>> items =
        checker_.list(bots->field(), "each entry of counted_bots");
    if (!items) {
      verdict_.fail();
      return;
    }
    std::vector<std::string> names;
    for (const Field& item : *items) {
      const std::optional<std::string> bot = checker_.scalar(item, "a bot name");
      if (!bot) {
        verdict_.fail();
      } else if (bot->empty()) {
        checker_.report(item.at, "bot name must not be empty");
        verdict_.fail();
      } else {
        names.push_back(*bot);
      }
    }
    result.counted_bots = std::move(names);
  }

  void allowed_shops(const Field& field, PlatformRules& result) {
    const std::optional<std::vector<Field>> items = checker_.list(field, "each entry of shops");
    if (!items) {
      verdict_.fail();
      return;
    }
    std::vector<std::string> names;
    for (const Field& item : *items) {
      const std::optional<std::string> shop = checker_.scalar(item, "a shop id");
      if (!shop) {
        verdict_.fail();
      } else if (shop->empty() || shop->size() > kMaxShopBytes) {
        checker_.report(item.at, "shop id must be 1 to 128 bytes");
        verdict_.fail();
      } else {
        names.push_back(*shop);
      }
    }
    if (items->empty()) {
      checker_.report(field.at, "shops must list at least one shop (omit it to allow any)");
      verdict_.fail();
    }
    result.allowed_shops = std::move(names);
  }

  void slas(const Field& field, bool file_has_service_hours, PlatformRules& result) {
    const std::optional<std::vector<Field>> items = checker_.list(field, "each SLA");
    if (!items) {
      verdict_.fail();
      return;
    }
    if (items->empty()) {
      checker_.report(field.at, "slas must not be empty, expected at least one SLA");
      verdict_.fail();
    }
    std::set<std::string> seen_names;
    const SlaContext context{file_has_service_hours, &seen_names};
    for (std::size_t i = 0; i < items->size(); ++i) {
      const Field& item = (*items)[i];
      if (i == kMaxSlasPerPlatform) {
        checker_.report(item.at,
                        fmt::format("too many SLAs, at most {} per file", kMaxSlasPerPlatform));
        verdict_.fail();
      }
      if (std::optional<Sla> parsed = check_sla(checker_, item, context)) {
        result.slas.push_back(std::move(*parsed));
      } else {
        verdict_.fail();
      }
    }
  }

  YamlChecker& checker_;
  Verdict verdict_;
  std::optional<std::string> platform_;
  SourcePosition platform_at_;
};

}  // namespace

FileOutcome check_rule_file(const std::string& file, std::string_view text) {
  YamlChecker checker(file);
  PlatformSchema schema(checker);
  FileOutcome outcome;
  try {
    if (const std::optional<YAML::Node> document = checker.only_document(
            text, "empty rule file, expected a mapping with platform, timezone and slas")) {
      outcome.rules = schema.platform_rules(*document);
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    checker.report(position_of(e.mark), "invalid yaml: nested too deeply");
  } catch (const YAML::Exception& e) {
    checker.report(position_of(e.mark), fmt::format("invalid yaml: {}", e.msg));
  } catch (const std::exception& e) {
    // A reload must report, never take the daemon down, whatever the file holds.
    checker.report({}, fmt::format("cannot read rule file: {}", e.what()));
  }
  if (checker.has_errors()) outcome.rules.reset();
  outcome.platform = schema.platform();
  outcome.platform_at = schema.platform_at();
  outcome.errors = checker.take_errors();
  return outcome;
}

}  // namespace replywatch::rules

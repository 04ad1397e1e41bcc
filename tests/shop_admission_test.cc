// ShopAdmission: the per-platform shop cap and allow-list, and replay applying it like run.
#include "replywatch/shop_admission.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "replywatch/replay_session.h"
#include "replywatch/rule_loader.h"

using replywatch::kDefaultMaxShops;
using replywatch::RejectReason;
using replywatch::ReplayOptions;
using replywatch::ReplaySession;
using replywatch::RuleSet;
using replywatch::ShopAdmission;
using Verdict = replywatch::ShopAdmission::Verdict;

namespace {

std::shared_ptr<const RuleSet> rules(const std::string& extra = {}) {
  auto loaded =
      replywatch::load_rule_text("platform: tmall\ntimezone: UTC\n" + extra +
                                     "slas:\n  - name: a\n    kind: reply_time\n    deadline: 3m\n",
                                 "tmall.yaml");
  REQUIRE(loaded.ok());
  return std::make_shared<const RuleSet>(std::move(loaded.rules));
}

std::string event(const std::string& id, const std::string& shop) {
  return R"({"id":")" + id + R"(","platform":"tmall","shop":")" + shop +
         R"(","type":"buyer_message","conversation":"c","ts":1795359600000})";
}

}  // namespace

TEST_CASE("shop admission: the first max_shops shops are admitted, then only they", "[shops]") {
  const auto set = rules();
  ShopAdmission shops(*set, 2);
  CHECK(shops.admit("tmall", "a") == Verdict::kAdmitted);
  CHECK(shops.admit("tmall", "a") == Verdict::kKnown);
  CHECK(shops.admit("tmall", "b") == Verdict::kAdmitted);
  CHECK(shops.admit("tmall", "c") == Verdict::kRefused);
  CHECK(shops.admit("tmall", "b") == Verdict::kKnown);
  CHECK(shops.admitted(0) == 2);
  // A slot given back (its event was never made durable) can be taken again.
  shops.forget("tmall", "b");
  CHECK(shops.admit("tmall", "c") == Verdict::kAdmitted);
  CHECK(shops.admit("jd", "a") == Verdict::kRefused);  // no such platform
  CHECK(kDefaultMaxShops == 1000);
}

TEST_CASE("shop admission: 0 means no cap", "[shops]") {
  const auto set = rules();
  ShopAdmission shops(*set, 0);
  for (int i = 0; i < 5000; ++i) {
    CHECK(shops.admit("tmall", "s" + std::to_string(i)) == Verdict::kAdmitted);
  }
}

TEST_CASE("shop admission: an allow-list admits exactly its shops, whatever the cap", "[shops]") {
  const auto set = rules("shops: [a, b, c]\n");
  ShopAdmission shops(*set, 1);
  CHECK(shops.admit("tmall", "a") == Verdict::kAdmitted);
  CHECK(shops.admit("tmall", "b") == Verdict::kAdmitted);
  CHECK(shops.admit("tmall", "c") == Verdict::kAdmitted);
  CHECK(shops.admit("tmall", "d") == Verdict::kRefused);
}

TEST_CASE("shop admission: replay rejects further shops as too_many_shops, before dedup",
          "[shops]") {
  ReplayOptions options;
  options.max_shops = 2;
  ReplaySession session(rules(), options);
  CHECK_FALSE(session.feed_line(event("1", "a")));
  CHECK_FALSE(session.feed_line(event("2", "b")));
  const auto refused = session.feed_line(event("3", "c"));
  REQUIRE(refused);
  CHECK(refused->reason == RejectReason::kTooManyShops);
  // The same id again is rejected again, never a duplicate.
  REQUIRE(session.feed_line(event("3", "c")));
  CHECK_FALSE(session.feed_line(event("4", "a")));
  const auto report = session.finish();
  CHECK(report.accepted == 3);
  CHECK(report.rejected == 2);
  CHECK(report.duplicates == 0);
  CHECK(report.slas.size() == 2);  // shops a and b only
}

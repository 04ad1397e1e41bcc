// Generated traffic shared by the benchmarks.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "replywatch/time.h"

namespace replywatch::bench {

// A day of chat traffic over many shops: buyers ask, agents and bots answer after a few seconds
// to a few minutes, sometimes never; agents go on and off line. Lines are shuffled by up to one
// second, inside the default allowed lateness, as webhooks arrive.
inline std::vector<std::string> make_traffic(std::size_t count, std::uint32_t seed) {
  std::mt19937 random(seed);
  const std::vector<std::string> platforms = {"tmall", "douyin", "xiaohongshu", "amazon", "ebay"};
  const Instant day_start = Instant(Duration(1763596800000));  // 2025-11-20T00:00:00Z
  struct Line {
    Instant ts;
    std::string text;
  };
  std::vector<Line> lines;
  lines.reserve(count);
  std::uniform_int_distribution<int> shop_pick(0, 199);
  std::uniform_int_distribution<int> delay_ms(2'000, 400'000);
  std::uniform_int_distribution<std::int64_t> start_ms(0, 86'400'000 - 1);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uint64_t id = 0;
  while (lines.size() < count) {
    const int shop = shop_pick(random);
    const std::string& platform = platforms[static_cast<std::size_t>(shop) % platforms.size()];
    const std::string conversation = fmt::format("buyer{}", id);
    Instant ts = day_start + Duration(start_ms(random));
    auto add = [&](const std::string& type, const std::string& extra) {
      lines.push_back(
          {ts, fmt::format(R"({{"id":"e{}","platform":"{}","shop":"shop{}","type":"{}",)"
                           R"("conversation":"{}",{}"ts":{}}})",
                           id++, platform, shop, type, conversation, extra,
                           ts.time_since_epoch().count())});
    };
    if (percent(random) < 5) {
      lines.push_back({ts, fmt::format(R"({{"id":"e{}","platform":"{}","shop":"shop{}",)"
                                       R"("type":"agent_status","agent":"a{}","status":"{}",)"
                                       R"("ts":{}}})",
                                       id++, platform, shop, shop % 7,
                                       percent(random) < 60 ? "online" : "offline",
                                       ts.time_since_epoch().count())});
      continue;
    }
    const int turns = 1 + percent(random) % 4;
    for (int turn = 0; turn < turns && lines.size() < count; ++turn) {
      add("buyer_message", "");
      ts += Duration(delay_ms(random));
      const int who = percent(random);
      if (who < 30) {
        add("bot_message", R"("bot":"leyan",)");
      } else if (who < 35) {
        add("bot_message", R"("bot":"platform",)");
      } else if (who < 95) {
        add("agent_message", "");
      }
      ts += Duration(delay_ms(random));
    }
    if (percent(random) < 20) add("conversation_closed", "");
  }
  lines.resize(count);
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.ts < b.ts; });
  std::uniform_int_distribution<std::int64_t> jitter(0, 999);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (jitter(random) < 200 && lines[i + 1].ts - lines[i].ts < Duration(1000)) {
      std::swap(lines[i], lines[i + 1]);
    }
  }
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (Line& line : lines) out.push_back(std::move(line.text));
  return out;
}

}  // namespace replywatch::bench

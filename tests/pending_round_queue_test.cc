#include "pending_round_queue.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <random>

using replywatch::Duration;
using replywatch::Instant;
using replywatch::PendingRoundQueue;

namespace {

Instant at(std::int64_t ms) { return Instant(Duration(ms)); }

// Rounds by conversation slot: their start while pending.
struct Model {
  std::map<std::uint32_t, Instant> pending;

  std::optional<Instant> start_of(PendingRoundQueue::Round round) const {
    const auto found = pending.find(round.conversation);
    if (found == pending.end()) return std::nullopt;
    return found->second;
  }
  std::optional<Instant> oldest() const {
    std::optional<Instant> oldest;
    for (const auto& [slot, start] : pending) {
      if (!oldest || start < *oldest) oldest = start;
    }
    return oldest;
  }
};

}  // namespace

TEST_CASE("pending_round_queue: in-order rounds leave from the front as they are decided",
          "[pending_round_queue]") {
  PendingRoundQueue queue;
  Model model;
  auto start_of = [&](PendingRoundQueue::Round round) { return model.start_of(round); };
  CHECK_FALSE(queue.oldest(start_of));
  for (std::uint32_t i = 0; i < 5; ++i) {
    model.pending[i] = at(100 * i);
    queue.push({i, 0}, at(100 * i));
  }
  CHECK(queue.oldest(start_of) == at(0));
  // Decided in the middle: stays until it reaches the front.
  model.pending.erase(2);
  queue.prune(start_of);
  CHECK(queue.size() == 5);
  CHECK(queue.oldest(start_of) == at(0));
  model.pending.erase(0);
  model.pending.erase(1);
  queue.prune(start_of);
  CHECK(queue.size() == 2);  // 2 was stale behind 1 and left with it
  CHECK(queue.oldest(start_of) == at(300));
  model.pending.clear();
  queue.prune(start_of);
  CHECK(queue.size() == 0);
  CHECK_FALSE(queue.oldest(start_of));
}

TEST_CASE("pending_round_queue: a round older than the newest one (a late event's) still counts",
          "[pending_round_queue]") {
  PendingRoundQueue queue;
  Model model;
  auto start_of = [&](PendingRoundQueue::Round round) { return model.start_of(round); };
  model.pending[0] = at(1000);
  queue.push({0, 0}, at(1000));
  model.pending[1] = at(400);
  queue.push({1, 0}, at(400));
  model.pending[2] = at(700);
  queue.push({2, 0}, at(700));
  CHECK(queue.oldest(start_of) == at(400));
  model.pending.erase(1);
  queue.prune(start_of);
  CHECK(queue.oldest(start_of) == at(700));
  model.pending.erase(2);
  queue.prune(start_of);
  CHECK(queue.oldest(start_of) == at(1000));
}

TEST_CASE("pending_round_queue: the oldest matches a brute-force minimum on random traffic",
          "[pending_round_queue]") {
  std::mt19937_64 random(14);
  PendingRoundQueue queue;
  Model model;
  auto start_of = [&](PendingRoundQueue::Round round) { return model.start_of(round); };
  std::int64_t clock = 0;
  std::uint32_t next_slot = 0;
  for (int step = 0; step < 20000; ++step) {
    const auto pick = random() % 10;
    if (pick < 5) {
      clock += static_cast<std::int64_t>(random() % 50);
      // One in ten rounds comes from a late event, older than the newest.
      const std::int64_t start =
          random() % 10 == 0 ? clock - static_cast<std::int64_t>(random() % 500) : clock;
      model.pending[next_slot] = at(start);
      queue.push({next_slot, 0}, at(start));
      ++next_slot;
    } else if (!model.pending.empty()) {
      // Decide the oldest (a deadline) or any (an answer).
      auto victim = model.pending.begin();
      if (pick < 8) {
        std::advance(victim, static_cast<long>(random() % model.pending.size()));
      } else {
        for (auto it = model.pending.begin(); it != model.pending.end(); ++it) {
          if (it->second < victim->second) victim = it;
        }
      }
      model.pending.erase(victim);
      queue.prune(start_of);
    }
    INFO("step " << step);
    REQUIRE(queue.oldest(start_of) == model.oldest());
  }
}

TEST_CASE("pending_round_queue: compaction drops stale entries from the middle and keeps order",
          "[pending_round_queue]") {
  PendingRoundQueue queue;
  Model model;
  auto start_of = [&](PendingRoundQueue::Round round) { return model.start_of(round); };
  // The oldest stays pending while everything behind it is answered.
  for (std::uint32_t i = 0; i < 100; ++i) {
    model.pending[i] = at(10 * i);
    queue.push({i, 0}, at(10 * i));
  }
  model.pending[100] = at(5);  // a late one, in the heap
  queue.push({100, 0}, at(5));
  for (std::uint32_t i = 1; i < 99; ++i) model.pending.erase(i);
  queue.prune(start_of);
  CHECK(queue.size() == 101);
  queue.compact(start_of);
  CHECK(queue.size() == 3);
  CHECK(queue.oldest(start_of) == at(0));
  model.pending.erase(0);
  queue.prune(start_of);
  CHECK(queue.oldest(start_of) == at(5));
  model.pending.erase(100);
  queue.prune(start_of);
  CHECK(queue.oldest(start_of) == at(990));
  CHECK(queue.size() == 1);
}

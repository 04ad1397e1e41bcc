#include "conversation_index.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>

using replywatch::ConversationIndex;

namespace {

// Looks `index` up under `hash`, as the engine does, matching on the slot number itself.
std::uint32_t find(const ConversationIndex& table, std::uint64_t hash, std::uint32_t index) {
  return table.find(hash, [index](std::uint32_t candidate) { return candidate == index; });
}

}  // namespace

TEST_CASE("conversation_index: colliding hashes share a probe run and survive erasure",
          "[conversation_index]") {
  ConversationIndex table;
  // Every hash has the same low bits, so all entries sit in one run from the same home slot.
  for (std::uint32_t i = 0; i < 10; ++i) table.insert(7, i);
  CHECK(table.size() == 10);
  table.erase(7, 0);  // the head of the run
  table.erase(7, 5);  // the middle
  table.erase(7, 9);  // the tail
  CHECK(table.size() == 7);
  for (std::uint32_t i = 0; i < 10; ++i) {
    INFO("slot " << i);
    const bool kept = i != 0 && i != 5 && i != 9;
    CHECK(find(table, 7, i) == (kept ? i : ConversationIndex::kNone));
  }
  table.erase(7, 42);  // not there: nothing changes
  CHECK(table.size() == 7);
}

TEST_CASE("conversation_index: a probe run wrapping past the table's end", "[conversation_index]") {
  ConversationIndex table;
  // 16 slots until the 15th insert; the home slot is the top 4 bits of the low 32 of the hash:
  // 15, the last, so the run wraps to 0, 1, ...
  constexpr std::uint64_t kLast = 0xF0000000;
  for (std::uint32_t i = 0; i < 5; ++i) table.insert(kLast, i);
  table.insert(0, 100);  // home 0, pushed behind the wrapped run
  table.erase(kLast, 1);
  table.erase(kLast, 3);
  CHECK(find(table, 0, 100) == 100);
  for (std::uint32_t i : {0U, 2U, 4U}) CHECK(find(table, kLast, i) == i);
  CHECK(find(table, kLast, 1) == ConversationIndex::kNone);
  CHECK(find(table, kLast, 3) == ConversationIndex::kNone);
}

TEST_CASE("conversation_index: agrees with a map under random inserts and erases",
          "[conversation_index]") {
  const auto seed = GENERATE(1U, 2U, 3U, 4U, 5U);
  std::mt19937 random(seed);
  // Few distinct hashes for many entries, so runs are long and collide often.
  std::uniform_int_distribution<std::uint64_t> hash_of(0, 63);
  ConversationIndex table;
  std::map<std::uint32_t, std::uint64_t> model;   // slot -> hash, present
  std::map<std::uint32_t, std::uint64_t> erased;  // slot -> hash, removed
  std::uint32_t next_slot = 0;
  for (int step = 0; step < 4000; ++step) {
    if (model.empty() || random() % 3 != 0) {
      // Spread over the home slots' bits (the top of the low 32) and the fingerprint's.
      const std::uint64_t hash = hash_of(random) * 0x04000000 + (random() % 4);
      table.insert(hash, next_slot);
      model.emplace(next_slot++, hash);
    } else {
      auto victim = model.begin();
      std::advance(victim, static_cast<long>(random() % model.size()));
      table.erase(victim->second, victim->first);
      erased.emplace(*victim);
      model.erase(victim);
    }
  }
  CHECK(table.size() == model.size());
  for (const auto& [slot, hash] : model) {
    INFO("slot " << slot);
    REQUIRE(find(table, hash, slot) == slot);
  }
  for (const auto& [slot, hash] : erased) {
    INFO("erased slot " << slot);
    REQUIRE(find(table, hash, slot) == ConversationIndex::kNone);
  }
}

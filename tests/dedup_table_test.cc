#include "dedup_table.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>

using replywatch::DedupTable;
using replywatch::Duration;
using replywatch::Hash128;
using replywatch::Instant;

namespace {

Instant at(std::int64_t ms) { return Instant(Duration(ms)); }

}  // namespace

TEST_CASE("dedup_table: keys are length-delimited per field", "[dedup_table]") {
  // The same bytes split differently between shop and id, or another platform: other keys.
  const Hash128 a = DedupTable::key_of(0, "ab", "c");
  CHECK(a == DedupTable::key_of(0, "ab", "c"));
  CHECK_FALSE(a == DedupTable::key_of(0, "a", "bc"));
  CHECK_FALSE(a == DedupTable::key_of(1, "ab", "c"));
}

TEST_CASE("dedup_table: a key is a duplicate until its retention ends, inclusive",
          "[dedup_table]") {
  DedupTable table;
  const Hash128 key = DedupTable::key_of(0, "shop", "id-1");
  CHECK_FALSE(table.insert_unless_present(key, at(100), at(0)));
  CHECK(table.contains(key, at(100)));
  CHECK(table.insert_unless_present(key, at(500), at(100)));
  CHECK_FALSE(table.contains(key, at(101)));
  // Past its end a copy counts anew, with the new end.
  CHECK_FALSE(table.insert_unless_present(key, at(300), at(101)));
  CHECK(table.contains(key, at(300)));
  CHECK(table.size() == 1);
  CHECK_FALSE(table.contains(DedupTable::key_of(0, "shop", "id-2"), at(0)));
}

TEST_CASE("dedup_table: many keys, growth, and expired entries dropped instead of growing",
          "[dedup_table]") {
  DedupTable table;
  constexpr int kCount = 100'000;
  for (int i = 0; i < kCount; ++i) {
    REQUIRE_FALSE(
        table.insert_unless_present(DedupTable::key_of(0, "s", std::to_string(i)), at(i), at(0)));
  }
  CHECK(table.size() == kCount);
  for (int i = 0; i < kCount; i += 997) {
    CHECK(table.contains(DedupTable::key_of(0, "s", std::to_string(i)), at(i)));
  }
  // Between 64 % and 80 % full.
  CHECK(table.capacity() * 64 <= table.size() * 100 + table.capacity());
  CHECK(table.size() * 5 <= table.capacity() * 4);

  // Time moves past every one of them: new ids reuse the room instead of growing the table.
  const std::size_t capacity = table.capacity();
  for (int i = 0; i < kCount; ++i) {
    REQUIRE_FALSE(table.insert_unless_present(DedupTable::key_of(0, "t", std::to_string(i)),
                                              at(2 * kCount), at(kCount)));
  }
  CHECK(table.capacity() == capacity);
  CHECK_FALSE(table.contains(DedupTable::key_of(0, "s", "5"), at(kCount)));
  CHECK(table.contains(DedupTable::key_of(0, "t", "5"), at(kCount)));

  table.drop_expired(at(2 * kCount + 1));
  CHECK(table.size() == 0);
}

TEST_CASE("dedup_table: no two of a million keys share a hash", "[dedup_table]") {
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  for (int i = 0; i < 1'000'000; ++i) {
    const Hash128 key =
        DedupTable::key_of(static_cast<std::uint32_t>(i % 3), "shop", "msg-" + std::to_string(i));
    seen.emplace(key.low, key.high);
  }
  CHECK(seen.size() == 1'000'000);
}

TEST_CASE("dedup_table: a restored table still drops expired entries when it needs room",
          "[dedup_table]") {
  DedupTable table;
  for (int i = 0; i < 40; ++i) {
    table.insert_unless_present(DedupTable::key_of(0, "shop", "old-" + std::to_string(i)), at(10),
                                at(0));
  }
  std::string bytes;
  replywatch::SnapshotWriter writer([&](std::string_view piece) { bytes.append(piece); }, 64);
  table.save(writer);
  writer.flush();
  DedupTable restored;
  replywatch::SnapshotReader reader(bytes);
  restored.load(reader);
  reader.expect_end();
  REQUIRE(restored.size() == 40);
  const std::size_t capacity = restored.capacity();
  // Long after the old ids expired: the inserts that fill the table make room by dropping
  // them, not by growing.
  for (int i = 0; i < 40; ++i) {
    restored.insert_unless_present(DedupTable::key_of(0, "shop", "new-" + std::to_string(i)),
                                   at(1'000), at(100));
  }
  CHECK(restored.capacity() == capacity);
  CHECK(restored.size() == 40);
  CHECK_FALSE(
      restored.insert_unless_present(DedupTable::key_of(0, "shop", "old-3"), at(1'000), at(100)));
}

TEST_CASE("dedup_table: a forgotten key is absent at any instant and counts anew",
          "[dedup_table]") {
  DedupTable table;
  const Hash128 key = DedupTable::key_of(0, "shop", "id-1");
  const Hash128 other = DedupTable::key_of(0, "shop", "id-2");
  CHECK_FALSE(table.insert_unless_present(key, at(1000), at(0)));
  CHECK_FALSE(table.insert_unless_present(other, at(1000), at(0)));
  table.forget(key);
  table.forget(DedupTable::key_of(0, "shop", "never-seen"));
  CHECK_FALSE(table.contains(key, at(0)));
  CHECK(table.contains(other, at(0)));
  CHECK_FALSE(table.insert_unless_present(key, at(1000), at(0)));
  CHECK(table.contains(key, at(500)));
  // A forgotten entry is dropped when the table makes room.
  table.forget(key);
  table.drop_expired(at(0));
  CHECK(table.size() == 1);
  CHECK(table.contains(other, at(0)));
}

TEST_CASE("dedup_table: a prefetch is a hint only", "[dedup_table]") {
  DedupTable table;
  const Hash128 key = DedupTable::key_of(0, "shop", "id-1");
  table.prefetch(key);  // an empty table: nothing to load
  CHECK(table.size() == 0);
  CHECK_FALSE(table.contains(key, at(0)));
  CHECK_FALSE(table.insert_unless_present(key, at(100), at(0)));
  for (int i = 0; i < 1'000; ++i) {
    const Hash128 other = DedupTable::key_of(0, "shop", "other-" + std::to_string(i));
    table.prefetch(other);
    CHECK_FALSE(table.insert_unless_present(other, at(100), at(0)));
  }
  table.prefetch(key);
  CHECK(table.size() == 1'001);
  CHECK(table.insert_unless_present(key, at(100), at(0)));
}

#include "reorder_buffer.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

using replywatch::Duration;
using replywatch::Event;
using replywatch::Instant;
using replywatch::ReorderBuffer;

namespace {

Event event_at(std::int64_t ms, std::string id) {
  Event event;
  event.id = std::move(id);
  event.conversation = "c-" + event.id;
  event.ts = Instant(Duration(ms));
  return event;
}

}  // namespace

TEST_CASE("reorder_buffer: events come out by ts, ties in arrival order", "[reorder_buffer]") {
  ReorderBuffer buffer;
  buffer.push(event_at(30, "late"));
  buffer.push(event_at(10, "first-at-10"));
  buffer.push(event_at(20, "twenty"));
  buffer.push(event_at(10, "second-at-10"));
  buffer.push(event_at(10, "third-at-10"));
  REQUIRE(buffer.size() == 5);
  CHECK(buffer.front_ts() == Instant(Duration(10)));
  CHECK(buffer.pop().id == "first-at-10");
  CHECK(buffer.pop().id == "second-at-10");
  CHECK(buffer.pop().id == "third-at-10");
  const Event twenty = buffer.pop();
  CHECK(twenty.id == "twenty");
  CHECK(twenty.conversation == "c-twenty");  // the whole event comes back
  CHECK(buffer.pop().id == "late");
  CHECK(buffer.empty());
}

TEST_CASE("reorder_buffer: slots are reused and arrival order holds across reuse",
          "[reorder_buffer]") {
  ReorderBuffer buffer;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      buffer.push(event_at(i % 5, std::to_string(round) + ":" + std::to_string(i)));
    }
    std::int64_t previous_ts = -1;
    int previous_index = -1;
    while (!buffer.empty()) {
      const Event event = buffer.pop();
      const std::int64_t ts = event.ts.time_since_epoch().count();
      const int index = std::stoi(event.id.substr(event.id.find(':') + 1));
      REQUIRE(ts >= previous_ts);
      if (ts == previous_ts) REQUIRE(index > previous_index);
      previous_ts = ts;
      previous_index = index;
    }
  }
}

TEST_CASE("reorder_buffer: a drained burst gives its slots back", "[reorder_buffer]") {
  ReorderBuffer buffer;
  for (int i = 0; i < 10'000; ++i) buffer.push(event_at(i, std::to_string(i)));
  CHECK(buffer.slot_capacity() >= 10'000);
  for (int i = 0; i < 10'000; ++i) REQUIRE(buffer.pop().id == std::to_string(i));
  CHECK(buffer.empty());
  CHECK(buffer.slot_capacity() == 0);
  // and works as before afterwards
  buffer.push(event_at(5, "again"));
  CHECK(buffer.pop().id == "again");
  // A small buffer keeps its slots for reuse.
  for (int i = 0; i < 10; ++i) buffer.push(event_at(i, std::to_string(i)));
  while (!buffer.empty()) buffer.pop();
  CHECK(buffer.slot_capacity() > 0);
}

namespace {

// The buffer's snapshot bytes: what a restore would see of it.
std::string saved(const ReorderBuffer& buffer) {
  std::string bytes;
  {
    replywatch::SnapshotWriter out([&](std::string_view piece) { bytes.append(piece); });
    buffer.save(out);
    out.flush();
  }
  return bytes;
}

}  // namespace

TEST_CASE("reorder_buffer: front and drop_front hand out events as pop does, in place",
          "[reorder_buffer]") {
  ReorderBuffer popped;
  ReorderBuffer dropped;
  for (int i = 0; i < 50; ++i) {
    // Long ids and conversations too, which live on the heap rather than in the string.
    const std::string id = (i % 2 == 0 ? "a-rather-long-event-id-" : "") + std::to_string(i);
    popped.push(event_at(i % 7, id));
    dropped.push(event_at(i % 7, id));
  }
  for (int i = 0; i < 30; ++i) {
    const Event expected = popped.pop();
    REQUIRE(dropped.front_ts() == expected.ts);
    Event& front = dropped.front();
    REQUIRE(front.id == expected.id);
    REQUIRE(front.conversation == expected.conversation);
    dropped.drop_front();
  }
  // The dropped slots hold nothing of their events, as popped ones do: the same snapshot.
  CHECK(saved(dropped) == saved(popped));
  // Reused slots take new events whole.
  popped.push(event_at(1, "new"));
  dropped.push(event_at(1, "new"));
  CHECK(dropped.front().id == popped.pop().id);
}

TEST_CASE("reorder_buffer: a buffer over several chunks keeps order and restores whole",
          "[reorder_buffer]") {
  ReorderBuffer buffer;
  // 5 000 events: several chunks of slots, half of them freed and reused before the save.
  for (int i = 0; i < 5'000; ++i) {
    buffer.push(event_at((i * 7919) % 1'000, "e" + std::to_string(i)));
  }
  for (int i = 0; i < 2'500; ++i) buffer.drop_front();
  for (int i = 0; i < 1'000; ++i) buffer.push(event_at(500, "r" + std::to_string(i)));
  CHECK(buffer.slot_capacity() >= 5'000);

  const std::string bytes = saved(buffer);
  ReorderBuffer restored;
  {
    replywatch::SnapshotReader in(bytes);
    restored.load(in);
  }
  CHECK(saved(restored) == bytes);
  REQUIRE(restored.size() == buffer.size());
  std::int64_t previous = -1;
  while (!buffer.empty()) {
    const Event expected = buffer.pop();
    const Event got = restored.pop();
    REQUIRE(got.id == expected.id);
    REQUIRE(got.ts == expected.ts);
    REQUIRE(got.ts.time_since_epoch().count() >= previous);
    previous = got.ts.time_since_epoch().count();
  }
  CHECK(restored.empty());
  CHECK(restored.slot_capacity() == 0);  // drained past the kept slots: given back
}

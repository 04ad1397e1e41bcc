#include "chunked_store.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

using replywatch::ChunkedStore;

TEST_CASE("chunked_store: elements keep their place and value across chunks", "[chunked_store]") {
  ChunkedStore<std::string> store;
  CHECK(store.size() == 0);
  std::string& first = store.emplace_back();
  first = "first";
  const std::string* first_address = &first;
  constexpr std::size_t kCount = 3 * ChunkedStore<std::string>::kChunkSize + 5;
  for (std::size_t i = 1; i < kCount; ++i) {
    std::string& added = store.emplace_back();
    CHECK(added.empty());  // value-initialised
    added = std::to_string(i);
  }
  CHECK(store.size() == kCount);
  CHECK(&store[0] == first_address);  // growth moved nothing
  CHECK(store[0] == "first");
  for (std::size_t i = 1; i < kCount; i += 997) CHECK(store[i] == std::to_string(i));
  CHECK(store[kCount - 1] == std::to_string(kCount - 1));
  const ChunkedStore<std::string>& view = store;
  CHECK(view[ChunkedStore<std::string>::kChunkSize] ==
        std::to_string(ChunkedStore<std::string>::kChunkSize));
}

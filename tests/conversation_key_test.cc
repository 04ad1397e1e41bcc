#include "conversation_key.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using replywatch::ConversationKey;

TEST_CASE("conversation_key: short keys inline, long keys on the heap, both read back",
          "[conversation_key]") {
  for (const std::string& text :
       {std::string(), std::string("c"), std::string(15, 'x'), std::string(16, 'y'),
        std::string(256, 'z'), std::string("with\0nul", 8)}) {
    INFO(text.size() << " bytes");
    ConversationKey key(text);
    CHECK(key.view() == text);
    CHECK(key == text);
    CHECK(key.empty() == text.empty());
  }
}

TEST_CASE("conversation_key: copies, moves and reassignment keep their own bytes",
          "[conversation_key]") {
  const std::string long_text(40, 'L');
  ConversationKey a(long_text);
  ConversationKey b(a);  // a deep copy
  a.assign("short");
  CHECK(b.view() == long_text);
  CHECK(a.view() == "short");

  ConversationKey c(std::move(b));
  CHECK(c.view() == long_text);
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by design

  c = a;
  CHECK(c.view() == "short");
  a = std::move(c);
  CHECK(a.view() == "short");
  a = ConversationKey(long_text);
  CHECK(a.view() == long_text);

  std::vector<ConversationKey> many;
  for (int i = 0; i < 100; ++i) many.emplace_back(std::string(static_cast<std::size_t>(i), 'k'));
  for (int i = 0; i < 100; ++i)
    CHECK(many[static_cast<std::size_t>(i)].view().size() == static_cast<std::size_t>(i));
}

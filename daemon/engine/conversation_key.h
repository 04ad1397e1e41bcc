// A conversation's key in 16 bytes: up to 15 bytes inline (most buyer ids), longer ones on the
// heap. A std::string takes 32 bytes for the same, which is a third of a conversation's state.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace replywatch {

class ConversationKey {
 public:
  ConversationKey() = default;
  explicit ConversationKey(std::string_view text) { assign(text); }
  ConversationKey(const ConversationKey& other) { assign(other.view()); }
  ConversationKey& operator=(const ConversationKey& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  ConversationKey(ConversationKey&& other) noexcept {
    std::memcpy(&storage_, &other.storage_, sizeof storage_);
    other.storage_ = Storage{};
  }
  ConversationKey& operator=(ConversationKey&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(&storage_, &other.storage_, sizeof storage_);
      other.storage_ = Storage{};
    }
    return *this;
  }
  ~ConversationKey() { release(); }

  void assign(std::string_view text) {
    release();
    if (text.size() <= kInlineCapacity) {
      std::memcpy(storage_.bytes, text.data(), text.size());
      storage_.bytes[kInlineCapacity] = static_cast<char>(text.size());
    } else {
      auto* copy = new char[text.size()];
      std::memcpy(copy, text.data(), text.size());
      Heap heap{copy, static_cast<std::uint32_t>(text.size())};
      std::memcpy(storage_.bytes, &heap, sizeof heap);
      storage_.bytes[kInlineCapacity] = kOnHeap;
    }
  }

  std::string_view view() const {
    if (!on_heap()) return {storage_.bytes, inline_size()};
    const Heap heap = heap_part();
    return {heap.data, heap.size};
  }
  bool empty() const { return !on_heap() && inline_size() == 0; }
  bool operator==(std::string_view text) const { return view() == text; }

 private:
  static constexpr std::size_t kInlineCapacity = 15;
  // The last byte holds the inline size (0..15) or this mark.
  static constexpr char kOnHeap = static_cast<char>(0xFF);

  struct Heap {
    char* data;
    std::uint32_t size;
  };
  struct Storage {
    char bytes[kInlineCapacity + 1] = {};
  };

  bool on_heap() const { return storage_.bytes[kInlineCapacity] == kOnHeap; }
  std::size_t inline_size() const {
    return static_cast<unsigned char>(storage_.bytes[kInlineCapacity]);
  }
  Heap heap_part() const {
    Heap heap;
    std::memcpy(&heap, storage_.bytes, sizeof heap);
    return heap;
  }
  void release() {
    if (on_heap()) delete[] heap_part().data;
    storage_ = Storage{};
  }

  Storage storage_;
};

static_assert(sizeof(ConversationKey) == 16);

}  // namespace replywatch

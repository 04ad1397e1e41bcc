// libFuzzer target: one rule file's text through the loader (docs/rules.md). Whatever the bytes,
// the loader returns rules or positioned errors, never both, and never crashes or hangs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "replywatch/rule_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > replywatch::kMaxRuleFileBytes) return 0;  // the directory walk refuses those
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const replywatch::RuleLoadResult result = replywatch::load_rule_text(text, "fuzz.yaml");
  if (result.ok() && result.rules.platforms.size() != 1) std::abort();
  for (const replywatch::RuleError& error : result.errors) {
    if (error.message.empty()) std::abort();
    (void)error.to_string();
  }
  return 0;
}

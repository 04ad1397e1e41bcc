// The console's page, script, style sheet and icon, built into the binary by
// cmake/embed_console.cmake from daemon/server/console/.
#pragma once

#include <span>
#include <string_view>

namespace replywatch::server {

struct ConsoleAsset {
  std::string_view path;  // /console/app.js
  std::string_view content_type;
  std::string_view body;
};

std::span<const ConsoleAsset> console_assets();

inline const ConsoleAsset* find_console_asset(std::string_view path) {
  for (const ConsoleAsset& asset : console_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace replywatch::server

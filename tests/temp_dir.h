// A fresh directory under the build tree's test data directory, removed when the object goes.
// Shared by every test that touches files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace rwtest {

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path_ = std::filesystem::path(REPLYWATCH_TEST_DATA_DIR) /
            (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& relative) const { return (path_ / relative).string(); }

  // Writes `content` to `relative` (parent directories made); returns the file's path.
  std::string write(const std::string& relative, const std::string& content) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace rwtest

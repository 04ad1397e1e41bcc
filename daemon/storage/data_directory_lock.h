// Keeps a second daemon off a data directory: an flock on DATA/lock, and a lock on the
// directory's path itself (an abstract Unix socket named after it, released by the kernel when
// the process ends, however it ends). The path lock outlives the directory: after `rm -rf DATA`
// the flock is gone with its file, but a second daemon started on the same path still finds the
// path taken.
#pragma once

#include <memory>
#include <string>

#include "event_log.h"

namespace replywatch::storage {

class DataDirectoryLock {
 public:
  // `directory` must exist.
  static std::unique_ptr<DataDirectoryLock> acquire(const std::string& directory, LogError& error);

  DataDirectoryLock(const DataDirectoryLock&) = delete;
  DataDirectoryLock& operator=(const DataDirectoryLock&) = delete;
  ~DataDirectoryLock();

  // Whether DATA/lock is still the file this process locked.
  LogError check() const;

  const std::string& lock_path() const { return lock_path_; }

 private:
  DataDirectoryLock() = default;

  std::string lock_path_;
  int lock_fd_ = -1;
  int path_socket_ = -1;
};

}  // namespace replywatch::storage

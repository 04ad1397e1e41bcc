#include "data_directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace replywatch::storage {
namespace {

// FNV-1a, 64 bits: the abstract socket's name holds 107 bytes, paths may be longer.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

LogError taken(const std::string& directory, const std::string& how) {
  return LogError{std::make_error_code(std::errc::resource_unavailable_try_again),
                  "another replywatch is using the data directory " + directory + " (" + how + ")"};
}

}  // namespace

std::unique_ptr<DataDirectoryLock> DataDirectoryLock::acquire(const std::string& directory,
                                                              LogError& error) {
  std::unique_ptr<DataDirectoryLock> lock(new DataDirectoryLock());
  std::error_code code;
  const std::string absolute = std::filesystem::weakly_canonical(directory, code).string();
  const std::string path_key = code ? directory : absolute;
  lock->path_socket_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lock->path_socket_ < 0) {
    error = LogError{
        {errno, std::system_category()},
        std::string("cannot make the data directory's path lock: ") + std::strerror(errno)};
    return nullptr;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  char name[64];
  const int length = std::snprintf(name, sizeof name, "replywatch-data-%016llx",
                                   static_cast<unsigned long long>(fnv1a(path_key)));
  std::memcpy(address.sun_path + 1, name, static_cast<std::size_t>(length));
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + length);
  if (::bind(lock->path_socket_, reinterpret_cast<const sockaddr*>(&address), size) != 0) {
    error = errno == EADDRINUSE ? taken(path_key, "its path is locked")
                                : LogError{{errno, std::system_category()},
                                           std::string("cannot lock the data directory's path: ") +
                                               std::strerror(errno)};
    return nullptr;
  }
  lock->lock_path_ = (std::filesystem::path(directory) / "lock").string();
  lock->lock_fd_ = ::open(lock->lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock->lock_fd_ < 0) {
    error = LogError{{errno, std::system_category()},
                     "cannot open " + lock->lock_path_ + ": " + std::strerror(errno)};
    return nullptr;
  }
  if (::flock(lock->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    error = taken(directory, lock->lock_path_ + " is locked");
    return nullptr;
  }
  return lock;
}

DataDirectoryLock::~DataDirectoryLock() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (path_socket_ >= 0) ::close(path_socket_);
}

LogError DataDirectoryLock::check() const {
  struct stat path_info {};
  struct stat open_info {};
  if (::stat(lock_path_.c_str(), &path_info) != 0 || ::fstat(lock_fd_, &open_info) != 0 ||
      path_info.st_dev != open_info.st_dev || path_info.st_ino != open_info.st_ino) {
    return LogError{std::make_error_code(std::errc::no_such_file_or_directory),
                    "the lock file " + lock_path_ + " was removed, renamed or replaced"};
  }
  return {};
}

}  // namespace replywatch::storage

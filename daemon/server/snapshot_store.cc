#include "snapshot_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crc32c.h"

namespace replywatch::server {
namespace {

constexpr std::array<char, 8> kMagic = {'R', 'W', 'S', 'N', 'A', 'P', '\r', '\n'};
constexpr std::size_t kHeaderBytes = 48;
constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kSuffix = ".rws";
constexpr std::string_view kTempMark = ".tmp";
// While a snapshot is written, every this many bytes are handed to the disk and then dropped
// from the page cache (below).
constexpr off_t kWritebackBytes = off_t{32} << 20;

struct Header {
  std::uint32_t version = kSnapshotFormatVersion;
  std::uint64_t sequence = 0;
  std::int64_t written_at_ms = 0;
  std::uint64_t payload_bytes = 0;
  std::uint32_t payload_crc = 0;
};

template <typename T>
void put(char*& out, T value) {
  std::memcpy(out, &value, sizeof value);
  out += sizeof value;
}

template <typename T>
T take(const char*& in) {
  T value;
  std::memcpy(&value, in, sizeof value);
  in += sizeof value;
  return value;
}

std::array<char, kHeaderBytes> encode(const Header& header) {
  std::array<char, kHeaderBytes> bytes{};
  char* out = bytes.data();
  std::memcpy(out, kMagic.data(), kMagic.size());
  out += kMagic.size();
  put(out, header.version);
  put(out, static_cast<std::uint32_t>(kHeaderBytes));
  put(out, header.sequence);
  put(out, header.written_at_ms);
  put(out, header.payload_bytes);
  put(out, header.payload_crc);
  put(out, storage::crc32c(std::string_view(bytes.data(), kHeaderBytes - 4)));
  return bytes;
}

std::string file_name(std::uint64_t sequence) {
  return fmt::format("{}{:020}{}", kPrefix, sequence, kSuffix);
}

std::optional<std::uint64_t> sequence_of(std::string_view name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() != 20) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::error_code last_error() { return {errno, std::generic_category()}; }

std::error_code write_all(int fd, const char* data, std::size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return {};
}

std::error_code sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  const int result = ::fsync(fd);
  const std::error_code error = result != 0 ? last_error() : std::error_code{};
  ::close(fd);
  return error;
}

}  // namespace

LoadedSnapshot::LoadedSnapshot(std::string path, std::uint64_t sequence, Instant written_at,
                               const char* map, std::size_t map_size, std::size_t payload_offset)
    : path_(std::move(path)),
      sequence_(sequence),
      written_at_(written_at),
      map_(map),
      map_size_(map_size),
      payload_offset_(payload_offset) {}

LoadedSnapshot::~LoadedSnapshot() {
  ::munmap(const_cast<char*>(map_), map_size_);  // NOLINT: munmap takes a non-const pointer
}

std::error_code SnapshotStore::prepare() const {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  return error;
}

std::vector<SnapshotFile> SnapshotStore::list(std::error_code& error) const {
  std::vector<SnapshotFile> files;
  error.clear();
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) {
    if (errno != ENOENT) error = last_error();
    return files;
  }
  while (const dirent* entry = ::readdir(dir)) {
    if (const auto sequence = sequence_of(entry->d_name)) {
      files.push_back({directory_ + "/" + entry->d_name, *sequence});
    }
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end(),
            [](const SnapshotFile& a, const SnapshotFile& b) { return a.sequence > b.sequence; });
  return files;
}

std::error_code SnapshotStore::write(std::uint64_t sequence, Instant written_at,
                                     const std::function<void(SnapshotWriter&)>& body,
                                     std::string* written_path) const {
  const std::string final_path = directory_ + "/" + file_name(sequence);
  const std::string temp_path =
      fmt::format("{}{}.{}", final_path, kTempMark, static_cast<long>(::getpid()));
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_error();
  std::error_code error;
  Header header;
  header.sequence = sequence;
  header.written_at_ms = written_at.time_since_epoch().count();
  off_t offset = kHeaderBytes;
  // Written back piece by piece instead of all at the final fsync (hundreds of MB at once, in
  // the same disk queue as the log's fdatasync), and each piece dropped from the page cache
  // once on disk, so that a snapshot does not push the log's and the process' pages out.
  off_t writeback_from = 0;
  off_t dropped_to = 0;
  auto write_back = [&] {
    ::sync_file_range(fd, writeback_from, offset - writeback_from, SYNC_FILE_RANGE_WRITE);
    if (dropped_to < writeback_from) {
      ::sync_file_range(
          fd, dropped_to, writeback_from - dropped_to,
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      ::posix_fadvise(fd, dropped_to, writeback_from - dropped_to, POSIX_FADV_DONTNEED);
      dropped_to = writeback_from;
    }
    writeback_from = offset;
  };
  storage::Crc32c payload_crc;
  {
    SnapshotWriter writer([&](std::string_view piece) {
      if (error) return;
      storage::crc32c_update(payload_crc, piece);
      error = write_all(fd, piece.data(), piece.size(), offset);
      offset += static_cast<off_t>(piece.size());
      if (!error && offset - writeback_from >= kWritebackBytes) write_back();
    });
    try {
      body(writer);
      writer.flush();
    } catch (...) {
      ::close(fd);
      ::unlink(temp_path.c_str());
      throw;
    }
    header.payload_bytes = writer.bytes_written();
    header.payload_crc = payload_crc.checksum();
  }
  if (!error) {
    const auto bytes = encode(header);
    error = write_all(fd, bytes.data(), bytes.size(), 0);
  }
  if (!error && ::fsync(fd) != 0) error = last_error();
  if (::close(fd) != 0 && !error) error = last_error();
  if (!error && ::rename(temp_path.c_str(), final_path.c_str()) != 0) error = last_error();
  if (error) {
    ::unlink(temp_path.c_str());
    return error;
  }
  if (written_path != nullptr) *written_path = final_path;
  return sync_directory(directory_);
}

std::unique_ptr<LoadedSnapshot> SnapshotStore::read(const SnapshotFile& file,
                                                    std::string& error) const {
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("cannot open {}: {}", file.path, std::strerror(errno));
    return nullptr;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    error = fmt::format("cannot read {}: {}", file.path, std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size < kHeaderBytes) {
    ::close(fd);
    error = fmt::format("{}: {} byte(s), shorter than a snapshot header", file.path, size);
    return nullptr;
  }
  // Every byte is read (the checksum, then the decoding, front to back): mapping the whole file
  // at once and reading it ahead sequentially costs one call, where faulting it in page by page
  // took a seventh of a restart at hundreds of MB.
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    error = fmt::format("cannot map {}: {}", file.path, std::strerror(errno));
    return nullptr;
  }
  ::madvise(map, size, MADV_SEQUENTIAL);
  const char* bytes = static_cast<const char*>(map);
  auto refuse = [&](std::string what) {
    ::munmap(map, size);
    error = fmt::format("{}: {}", file.path, what);
    return nullptr;
  };
  if (std::memcmp(bytes, kMagic.data(), kMagic.size()) != 0) return refuse("not a snapshot");
  const char* in = bytes + kMagic.size();
  Header header;
  header.version = take<std::uint32_t>(in);
  const auto header_bytes = take<std::uint32_t>(in);
  header.sequence = take<std::uint64_t>(in);
  header.written_at_ms = take<std::int64_t>(in);
  header.payload_bytes = take<std::uint64_t>(in);
  header.payload_crc = take<std::uint32_t>(in);
  const auto header_crc = take<std::uint32_t>(in);
  if (header_crc != storage::crc32c(std::string_view(bytes, kHeaderBytes - 4))) {
    return refuse("the header's checksum does not match");
  }
  if (header.version != kSnapshotFormatVersion || header_bytes != kHeaderBytes) {
    return refuse(fmt::format("format version {} (this build reads {})", header.version,
                              kSnapshotFormatVersion));
  }
  if (header.sequence != file.sequence) {
    return refuse(fmt::format("covers sequence {}, not the {} its name says", header.sequence,
                              file.sequence));
  }
  if (header.payload_bytes != size - kHeaderBytes) {
    return refuse(fmt::format("{} byte(s) of payload where the header says {}", size - kHeaderBytes,
                              header.payload_bytes));
  }
  if (storage::crc32c(std::string_view(bytes + kHeaderBytes, size - kHeaderBytes)) !=
      header.payload_crc) {
    return refuse("the payload's checksum does not match");
  }
  return std::make_unique<LoadedSnapshot>(file.path, header.sequence,
                                          Instant(Duration(header.written_at_ms)), bytes, size,
                                          kHeaderBytes);
}

std::error_code SnapshotStore::prune(std::size_t keep) const {
  std::error_code error;
  const std::vector<SnapshotFile> files = list(error);
  if (error) return error;
  for (std::size_t i = keep; i < files.size(); ++i) {
    if (::unlink(files[i].path.c_str()) != 0 && errno != ENOENT) error = last_error();
  }
  // Temporary files of writes that never finished (a crash, a killed child).
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) return error;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.starts_with(kPrefix) && name.find(kTempMark) != std::string_view::npos) {
      ::unlink((directory_ + "/" + std::string(name)).c_str());
    }
  }
  ::closedir(dir);
  return error;
}

}  // namespace replywatch::server

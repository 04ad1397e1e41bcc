// Snapshot files in a directory of their own (DATA/snapshots): `snapshot-SEQUENCE.rws`, SEQUENCE
// being the log sequence the state covers, in 20 digits so that names sort by it.
//
// A file is a 48-byte header and the payload:
//   magic "RWSNAP\r\n" | u32 format version | u32 header size | u64 covered sequence |
//   i64 written at (Unix ms) | u64 payload size | u32 payload CRC32C | u32 header CRC32C
// (little-endian; the header's CRC covers the 44 bytes before it). A file is written under a
// temporary name, synced, renamed into place and the directory synced, so a crash leaves either
// the whole new snapshot or none; a reader checks sizes and both checksums before any byte of
// the payload is decoded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "replywatch/snapshot_codec.h"
#include "replywatch/time.h"

namespace replywatch::server {

inline constexpr std::uint32_t kSnapshotFormatVersion = 1;

struct SnapshotFile {
  std::string path;
  std::uint64_t sequence = 0;
};

// A verified snapshot, mapped read-only; payload() is valid while it lives.
class LoadedSnapshot {
 public:
  LoadedSnapshot(std::string path, std::uint64_t sequence, Instant written_at, const char* map,
                 std::size_t map_size, std::size_t payload_offset);
  LoadedSnapshot(const LoadedSnapshot&) = delete;
  LoadedSnapshot& operator=(const LoadedSnapshot&) = delete;
  ~LoadedSnapshot();

  const std::string& path() const { return path_; }
  std::uint64_t sequence() const { return sequence_; }
  Instant written_at() const { return written_at_; }
  std::string_view payload() const { return {map_ + payload_offset_, map_size_ - payload_offset_}; }
  std::size_t file_bytes() const { return map_size_; }

 private:
  std::string path_;
  std::uint64_t sequence_;
  Instant written_at_;
  const char* map_;
  std::size_t map_size_;
  std::size_t payload_offset_;
};

class SnapshotStore {
 public:
  explicit SnapshotStore(std::string directory) : directory_(std::move(directory)) {}

  const std::string& directory() const { return directory_; }

  // Creates the directory if needed.
  std::error_code prepare() const;

  // Snapshot files, newest (highest sequence) first; other names are ignored.
  std::vector<SnapshotFile> list(std::error_code& error) const;

  // Writes a snapshot of what `body` encodes, covering `sequence`. Nothing but the finished file
  // is left behind, whatever fails. Takes no lock and logs nothing, so that a forked child may
  // call it; the returned path is the file's.
  std::error_code write(std::uint64_t sequence, Instant written_at,
                        const std::function<void(SnapshotWriter&)>& body,
                        std::string* written_path = nullptr) const;

  // Opens and verifies one file; on failure `error` says what is wrong with it.
  std::unique_ptr<LoadedSnapshot> read(const SnapshotFile& file, std::string& error) const;

  // Deletes all but the newest `keep` snapshots, and temporary files of unfinished writes.
  std::error_code prune(std::size_t keep) const;

 private:
  std::string directory_;
};

}  // namespace replywatch::server
